"""``genlens demo``: the planted-defect world end to end (see :mod:`genlens.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from genlens.cli import app
from genlens.cli._common import err_console
from genlens.cli.metrics import CACHE_HELP, DEVICE_HELP, SEED_HELP


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
    photos: bool = typer.Option(True, "--photos/--no-photos", help="Also run the real-photograph part (crops of "
                                "scikit-image's sample photos with planted defects) into DIR/photos."),
) -> None:
    """Run every view on generators with known, planted defects and compare what each view found.

    Builds the world, a real set, eight defective generators and the trained zoo DCGAN, writes one report
    per generator and DIR/index.html; then the same for crops of real photographs with planted defects.
    Example: genlens demo --out genlens-demo
    """
    from genlens.demo.run import run_demo

    index = run_demo(out, quick=quick, n=n, device=device, cache_dir=cache_dir, seed=seed, track=track,
                     photos=photos)
    err_console.print(f"open {index}")
