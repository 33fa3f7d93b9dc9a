"""``genlens atlas``: where in a network's activation space real and generated images part ways."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from genlens.cli import app


def _ints(text: str, what: str) -> tuple[int, ...]:
    from genlens.errors import ConfigError

    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated integers, e.g. 20,40,80; got {text!r}") from None
    if not values:
        raise ConfigError(f"{what} is empty")
    return values


@app.command("atlas")
def atlas_command(
    real: str = typer.Argument(..., help="Real images: a folder, a .npy/.npz array, or a zoo spec ('zoo:real?n=1000').",
                               show_default=False),
    fake: str = typer.Argument(..., help="Generated images, in any form REAL accepts.", show_default=False),
    model: str = typer.Option("zoo-classifier", "--model", help=(
        "Network: zoo-classifier, random-vgg16, torchvision:<arch> (see --weights) or pkg.module:factory "
        "(returns an nn.Module taking floats in [0, 1]).")),
    weights: str = typer.Option("default", "--weights", help="For torchvision:<arch>: default, random or a state-dict PATH."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated module names (default: a set per model).",
                                         show_default=False),
    grid: str = typer.Option("20,40,80", "--grid", help="Grid sizes, comma-separated."),
    positions: int = typer.Option(4, "--positions", min=1, help="Random spatial positions sampled per image."),
    n: Optional[int] = typer.Option(5000, "--n", min=20, help="Use at most the first N images of each input."),
    layout: str = typer.Option("joint", "--layout", help="joint (fit on a balanced pool) or reference (fit on REAL, "
                                                         "transform FAKE: one map shared by many checkpoints)."),
    method: str = typer.Option("umap", "--method", help="umap (Distill's settings) or pca (fast, coarser)."),
    alpha: float = typer.Option(0.5, "--alpha", min=1e-6, help="KL pseudo-count per cell (0.5 = Jeffreys)."),
    splits: int = typer.Option(8, "--splits", min=1, help="Real half-splits averaged for the noise floor."),
    icons: bool = typer.Option(False, "--icons/--no-icons", help="Render a feature-visualisation icon per cell of the smallest grid."),
    icon_steps: int = typer.Option(48, "--icon-steps", min=1, help="Optimisation steps per icon batch."),
    attribution: bool = typer.Option(False, "--attribution", help="Also record activation x gradient for every logit."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the results as JSON here.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", help="Write figures and the viewer page (atlas.html) here.",
                                       show_default=False),
    quick: bool = typer.Option(False, "--quick", help="zoo-classifier: the small quickly trained variant."),
    seed: int = typer.Option(0, "--seed", help="Seed for positions, layout and half-splits."),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda, ..."),
) -> None:
    """Lay out sampled activations of REAL and FAKE in 2-D, bin them on grids and report, per layer and
    grid, KL both ways and Jensen-Shannon with a noise floor from real half-splits, the cells that differ
    most with example patches, and an interactive viewer page.

    Example: genlens atlas zoo:real?n=1000 'zoo:drop_class?name=car&n=1000' --layers block3,block4 --grid 20,40 --json atlas.json --out atlas/
    """
    from genlens._fs import atomic_write_bytes
    from genlens.atlas.analysis import analyze_atlas
    from genlens.atlas.figures import all_figures
    from genlens.atlas.layout import LayoutConfig
    from genlens.atlas.viewer import write_viewer
    from genlens.cli._common import console, write_json
    from genlens.errors import ConfigError
    from genlens.io.sources import open_source

    if method not in ("umap", "pca") or layout not in ("joint", "reference"):
        raise ConfigError("--method must be umap or pca and --layout joint or reference")
    real_src, fake_src = open_source(real), open_source(fake)
    result = analyze_atlas(
        real_src, fake_src, model=model, layers=[p for p in layers.split(",") if p] if layers else None,
        grids=_ints(grid, "--grid"), positions=positions, max_images=n,
        layout=LayoutConfig(method=method, mode=layout, seed=seed),  # type: ignore[arg-type]
        alpha=alpha, splits=splits, attribution=attribution, icons=icons, icon_steps=icon_steps,
        weights=weights, quick=quick, seed=seed, device=None if device == "auto" else device,
    )
    if json_out:
        write_json(json_out, result.to_dict())
    if out:
        out.mkdir(parents=True, exist_ok=True)
        for figure in all_figures(result):
            atomic_write_bytes(out / f"{figure.name}.png", figure.png)
        write_viewer(result, real_src, fake_src, out / "atlas.html")
    for layer in result.layers:
        for g in layer.grids:
            console.print(
                f"{layer.layer:>14} {g.grid:>3}x{g.grid:<3} JS {g.divergences['js']:.4f}  floor {g.floor.floor['js']:.4f}"
                f"  excess {g.floor.excess['js']:+.4f}  KL(r||f) {g.divergences['kl_real_fake']:.4f}"
                f"  KL(f||r) {g.divergences['kl_fake_real']:.4f}  cells FDR<5% {g.significant_cells}",
                markup=False, highlight=False,
            )
