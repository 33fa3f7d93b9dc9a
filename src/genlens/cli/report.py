"""``genlens report``: every view that applies, in one HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from genlens.cli import app
from genlens.cli._common import err_console
from genlens.cli._views import ALPHA_HELP, DEFAULT_ALPHA
from genlens.views.section import Section
from genlens.cli.metrics import (
    CACHE_HELP,
    DEVICE_HELP,
    FAKE_HELP,
    FEATURES_HELP,
    N_BOOT_HELP,
    N_HELP,
    SEED_HELP,
    SKIP_BAD_HELP,
)


@app.command("report")
def report_command(
    real: str = typer.Argument(..., help="Real images: a folder, a .npy/.npz array, or a zoo spec.", show_default=False),
    fake: str = typer.Argument(..., help=FAKE_HELP, show_default=False),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output directory (report.html, results.json, figures/); never inside an input folder.",
        show_default=False,
    ),
    features: str = typer.Option("auto", "--features", "-f", help=FEATURES_HELP),
    n: Optional[int] = typer.Option(None, "--n", min=2, help=N_HELP, show_default=False),
    only: Optional[str] = typer.Option(
        None, "--only", help="Comma-separated section keys to run (metrics, regions, semantics, manifold, atlas).",
        show_default=False,
    ),
    metrics: str = typer.Option(
        "fid,kid,is,prdc,mmd,cms", "--metrics", "-m", help="Comma-separated standard metrics for the metrics section."
    ),
    title: str = typer.Option("genlens report", "--title", help="Title shown at the top of the page."),
    n_boot: int = typer.Option(50, "--n-boot", min=0, help=N_BOOT_HELP),
    alpha: float = typer.Option(DEFAULT_ALPHA, "--alpha", help=ALPHA_HELP),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_HELP, show_default=False),
    skip_bad: bool = typer.Option(False, "--skip-bad", help=SKIP_BAD_HELP),
    segmenter: Optional[str] = typer.Option(None, "--segmenter", show_default=False,
                                            help="Segmenter of the semantics view (enables it for your images), e.g. "
                                                 "torchvision:deeplabv3_resnet50 or pkg.module:factory."),
    atlas_model: Optional[str] = typer.Option(None, "--atlas-model", show_default=False,
                                              help="Network of the activation atlas (default: the images' own, else "
                                                   "random-vgg16)."),
    atlas_layers: Optional[str] = typer.Option(None, "--atlas-layers", show_default=False,
                                               help="Comma-separated module names of the atlas network."),
    decoder: Optional[str] = typer.Option(None, "--decoder", show_default=False,
                                          help="Decoder of the latent-manifold view (enables it), e.g. pkg.module:factory."),
    clusters: Optional[int] = typer.Option(None, "--clusters", "-k", min=1, show_default=False,
                                           help="Pixel clusters of the regions view (default: the largest-gap rule)."),
    assignments: list[str] = typer.Option([], "--set", show_default=False,
                                          help="Any view's option, as view.option=value (repeatable), e.g. --set "
                                               "regions.bandwidth_scale=0.1 --set atlas.grids=20,40. Each view's "
                                               "options are listed by `genlens <view> --help`."),
) -> None:
    """Run every view that applies to REAL vs FAKE and write one self-contained HTML report.

    Example: genlens report data/real/ samples/ --out report/
    """
    from genlens import api

    only_keys = [k.strip() for k in only.split(",") if k.strip()] if only else None
    shortcuts = {("semantics", "segmenter"): segmenter, ("atlas", "model"): atlas_model,
                 ("atlas", "layers"): atlas_layers, ("manifold", "decoder"): decoder, ("regions", "clusters"): clusters}
    html = api.report(
        real,
        fake,
        out,
        features=features,
        n=n,
        only=only_keys,
        metrics=[m.strip() for m in metrics.split(",") if m.strip()],
        title=title,
        n_boot=n_boot,
        seed=seed,
        device=device,
        cache_dir=cache_dir,
        skip_bad=skip_bad,
        options=view_options(assignments, shortcuts),
        on_done=_progress,
        alpha=alpha,
    )
    err_console.print(f"wrote {html}")


def view_options(assignments: list[str], shortcuts: dict[tuple[str, str], object]) -> dict[str, dict[str, object]]:
    """``--set view.option=value`` and the named shortcuts as ``{view: {option: value}}`` (values parsed by type)."""
    from genlens.errors import ConfigError
    from genlens.views import get_view
    from genlens.views.options import parse_assignments, parse_value

    options: dict[str, dict[str, object]] = {}
    for key, values in parse_assignments(assignments).items():
        view = get_view(key)
        options[key] = {name: parse_value(view.Options, name, text, label=f"--set {key}.{name}")
                        for name, text in values.items()}
    for (key, name), value in shortcuts.items():
        if value is None:
            continue
        if name in options.get(key, {}):
            raise ConfigError(f"{key}.{name} is given twice (a flag and --set); give it once")
        text = value if isinstance(value, str) else str(value)
        options.setdefault(key, {})[name] = parse_value(get_view(key).Options, name, text)
    return options


def _progress(section: Section, seconds: float) -> None:
    """One line per view as it finishes: its verdict and time, then any warning worth reading now."""
    err_console.print(f"  {section.title}: {section.verdict} ({seconds:.0f}s)", markup=False, highlight=False)
    for warning in section.warnings:
        err_console.print(f"    warning: {warning}", markup=False, highlight=False, style="yellow")

