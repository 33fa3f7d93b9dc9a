"""``genlens zoo``: the reference models shipped with genlens (list them, or retrain them from their recipes)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from genlens.cli import app
from genlens.cli._common import console, err_console

zoo_app = typer.Typer(help="The zoo's reference models: which ship with genlens, and how to remake them.",
                      no_args_is_help=True)
app.add_typer(zoo_app, name="zoo")


@zoo_app.command("list")
def list_command() -> None:
    """Every reference model, its weights file and whether this installation ships it."""
    from genlens.zoo.models.reference import status

    for row in status():
        size = f"{row['bytes'] / 1e6:.2f} MB" if row["bytes"] else ""
        mark = "shipped" if row["shipped"] else "missing (trained on first use)"
        console.print(f"{row['label']:<28} {mark:<30} {size:>9}  {row['file'] or ''}", highlight=False)


@zoo_app.command("train")
def train_command(
    out: Path = typer.Option(..., "--out", "-o", show_default=False,
                             help="Folder for the weights and manifest.json (the package's own: src/genlens/zoo/weights)."),
    only: Optional[str] = typer.Option(None, "--only", show_default=False,
                                       help="Comma-separated labels from `genlens zoo list` (default: all)."),
    device: Optional[str] = typer.Option(None, "--device", show_default=False,
                                         help="Where to train (default: a GPU when present)."),
) -> None:
    """Train reference models from their recipes (never copying shipped weights) and record their SHA-256.

    Weights trained on another CPU or a GPU differ in their last bits, and a GAN's training amplifies
    that: the result is a model of the same quality, not the same model. Example:
    genlens zoo train --out src/genlens/zoo/weights --only classifier-quick
    """
    from genlens.zoo.models.reference import train_reference_models

    labels = [s.strip() for s in only.split(",") if s.strip()] if only else None
    written = train_reference_models(out, labels, device=device)
    for name, entry in written.items():
        err_console.print(f"{entry['label']:<28} {name}  {entry['bytes'] / 1e6:.2f} MB  sha256 {entry['sha256'][:16]}...",
                          highlight=False)
    err_console.print(f"wrote {len(written)} model(s) and {out / 'manifest.json'}")
