"""``genlens report`` (every diagnostic that applies, one HTML page) and ``genlens demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from genlens.cli import app
from genlens.cli._common import err_console
from genlens.report.section import Section
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
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_HELP, show_default=False),
    skip_bad: bool = typer.Option(False, "--skip-bad", help=SKIP_BAD_HELP),
) -> None:
    """Run every diagnostic that applies to REAL vs FAKE and write one self-contained HTML report.

    Example: genlens report data/real/ samples/ --out report/
    """
    from genlens import api

    only_keys = [k.strip() for k in only.split(",") if k.strip()] if only else None
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
        on_done=_progress,
    )
    err_console.print(f"wrote {html}")


def _progress(section: Section, seconds: float) -> None:
    err_console.print(f"  {section.title}: {section.status} ({seconds:.0f}s)", markup=False, highlight=False)


@app.command("demo")
def demo_command(
    out: Path = typer.Option(Path("genlens-demo"), "--out", "-o", help="Output directory for index.html and one report per generator."),
    quick: bool = typer.Option(False, "--quick", help="Tiny sample counts and quick zoo models (seconds; for tests)."),
    n: Optional[int] = typer.Option(None, "--n", min=50, help="Images per set (default: 1000, or 200 with --quick).", show_default=False),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_HELP, show_default=False),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    track: bool = typer.Option(True, "--track/--no-track", help="Also run the tracking experiment (DCGAN over epochs "
                               "and seeds) into DIR/tracking."),
) -> None:
    """Run every view on generators with known, planted defects and compare what each view found.

    Builds the world, a real set, eight defective generators and the trained zoo DCGAN, writes one report
    per generator and DIR/index.html. Example: genlens demo --out genlens-demo
    """
    from genlens.report.demo import run_demo

    index = run_demo(out, quick=quick, n=n, device=device, cache_dir=cache_dir, seed=seed, track=track)
    err_console.print(f"open {index}")
