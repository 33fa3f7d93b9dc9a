"""``genlens metrics`` (standard metrics with CIs) and ``genlens features`` (export a feature array)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Optional

import typer

from genlens.cli import app
from genlens.cli._common import console, err_console
from genlens.cli._views import alpha_parameter, build_command, option_parameters, options_from
from genlens.metrics.view import MetricsOptions

REAL_HELP = (
    "Real images: a folder (recursive), a .npy/.npz array, or a zoo spec such as 'zoo:real?n=1000'. "
    "With --features precomputed: a .npy/.npz (n, d) feature array."
)
FAKE_HELP = "Generated images, in any form REAL accepts."
FEATURES_HELP = (
    "Feature space: 'auto' (the zoo classifier's penultimate features for zoo inputs; else, comparing two sets, "
    "learned: a small encoder trained on REAL only; for one set alone, random-vgg16), "
    "pixels, inception-v3-fid (needs its weights file), random-vgg16, learned, zoo-classifier, "
    "torchvision:<arch>[:<layer>], torchscript:<path>, or precomputed (REAL/FAKE are feature arrays)."
)
DEVICE_HELP = "Where networks and kernels run: auto (GPU when present), cpu, cuda, cuda:1, ..."
N_HELP = "Use only the first N images of each input (default: all)."
SKIP_BAD_HELP = "Skip unreadable image files in folders (they are listed) instead of stopping at the first."
CACHE_HELP = "Feature cache directory (default: $GENLENS_CACHE or ~/.cache/genlens)."
BATCH_HELP = "Images per batch for feature extraction."
SEED_HELP = "Seed for the bootstrap resamples and the random real-vs-real split (KID subsets use 2020, as torch-fidelity)."
N_BOOT_HELP = (
    "Bootstrap replicates for the intervals (estimate ± z·SE; a few dozen estimate the standard error well; "
    "0 = no intervals). FD skips its interval above 1024 feature dimensions."
)


def _metrics(values: dict[str, Any]) -> None:
    from genlens import api
    from genlens.cli._common import write_json
    from genlens.views import get_view

    options = options_from(get_view("metrics"), values)
    result = api.compute_metrics(
        values["real"], values["fake"], features=options.features, metrics=list(options.metrics), n=values["n"],
        n_boot=options.n_boot, level=options.level, floor=values["floor"], k=options.k, seed=values["seed"],
        device=values["device"], batch_size=options.batch_size, cache_dir=values["cache_dir"],
        skip_bad=values["skip_bad"], alpha=values["alpha"],
    )
    _print_skipped(result.inputs)
    console.print(api.metrics_table(result))
    for warning in result.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, style="yellow")
    console.print(result.summary(), markup=False, highlight=False)
    if values["json_out"] is not None:
        write_json(values["json_out"], result.to_json())
        err_console.print(f"wrote {values['json_out']}")


_POS, _KW = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
build_command(app, "metrics", [
    inspect.Parameter("real", _POS, annotation=str, default=typer.Argument(..., help=REAL_HELP, show_default=False)),
    inspect.Parameter("fake", _POS, annotation=str, default=typer.Argument(..., help=FAKE_HELP, show_default=False)),
    *option_parameters(MetricsOptions),
    inspect.Parameter("json_out", _KW, annotation=Optional[Path], default=typer.Option(
        None, "--json", help="Write the results as JSON here (top level: 'metrics' and 'inputs').", show_default=False)),
    inspect.Parameter("n", _KW, annotation=Optional[int], default=typer.Option(
        None, "--n", min=2, help=N_HELP, show_default=False)),
    inspect.Parameter("floor", _KW, annotation=bool, default=typer.Option(
        False, "--floor/--no-floor", help="Also compute each metric between two disjoint halves of REAL (noise floor).")),
    inspect.Parameter("seed", _KW, annotation=int, default=typer.Option(0, "--seed", help=SEED_HELP)),
    inspect.Parameter("device", _KW, annotation=str, default=typer.Option("auto", "--device", help=DEVICE_HELP)),
    inspect.Parameter("cache_dir", _KW, annotation=Optional[Path], default=typer.Option(
        None, "--cache-dir", help=CACHE_HELP, show_default=False)),
    inspect.Parameter("skip_bad", _KW, annotation=bool, default=typer.Option(False, "--skip-bad", help=SKIP_BAD_HELP)),
    alpha_parameter(),
], _metrics, """Compute standard metrics (FID, KID, IS, PRDC, MMD, CMS) between REAL and FAKE, with bootstrap CIs.

Example: genlens metrics data/real/ samples.npz --features random-vgg16 --json metrics.json
""")


@app.command("features")
def features_command(
    source: str = typer.Argument(..., help="Images: a folder, a .npy/.npz array, or a zoo spec.", show_default=False),
    features: str = typer.Option("auto", "--features", "-f", help=FEATURES_HELP),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Where to write the .npz (arrays 'features', and 'logits' when the network has them).",
        show_default=False,
    ),
    n: Optional[int] = typer.Option(None, "--n", min=1, help="Use only the first N images (default: all).", show_default=False),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help=BATCH_HELP),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_HELP, show_default=False),
    skip_bad: bool = typer.Option(False, "--skip-bad", help=SKIP_BAD_HELP),
) -> None:
    """Extract features of SOURCE and save them as .npz, e.g. to pass later with --features precomputed.

    Example: genlens features data/real/ --features random-vgg16 -o real_feats.npz
    """
    from genlens import api

    path = api.export_features(
        source, output, features=features, n=n, device=device, batch_size=batch_size, cache_dir=cache_dir, skip_bad=skip_bad
    )
    err_console.print(f"wrote {path}")


def _split_names(text: str) -> list[str]:
    return [name.strip().lower() for name in text.split(",") if name.strip()]


def _print_skipped(inputs: dict) -> None:
    for role, desc in inputs.items():
        skipped = desc.get("skipped") if isinstance(desc, dict) else None
        if skipped:
            err_console.print(f"[yellow]{role}: skipped {len(skipped)} unreadable file(s):[/yellow]")
            for item in skipped:
                err_console.print(f"  {item}", markup=False, highlight=False)
