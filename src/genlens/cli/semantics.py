"""``genlens semantics`` (which classes a generator omits) and ``genlens invert`` (what it cannot draw)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from genlens.cli import app
from genlens.cli._views import build_command, inputs, option_parameters, options_from, outputs
from genlens.semantics.view import SemanticsOptions

_SEGMENTER_HELP = (
    "Segmenter: zoo / zoo-quick (world classes), torchvision:<arch> or deeplabv3 / fcn (21 VOC classes; "
    "weights must be cached when offline), hf:<local model folder>, or pkg.module:factory."
)  # the invert command's; the semantics command's comes from SemanticsOptions


def _write_figures(figures: list, out: Path) -> list[str]:  # type: ignore[type-arg]
    from genlens._fs import atomic_write_bytes

    written = []
    for figure in figures:
        path = out / f"semantics-{figure.name}.png"
        atomic_write_bytes(path, figure.png)
        written.append(str(path))
    return written


def _refuse_inside(out: Path, *inputs: str) -> None:
    from genlens.errors import InputError

    target = out.expanduser().resolve()
    for spec in inputs:
        folder = Path(spec).expanduser()
        if folder.is_dir() and (target == folder.resolve() or folder.resolve() in target.parents):
            raise InputError(f"--out {out} lies inside the input folder {spec}; choose a folder outside it")


def _semantics(values: dict[str, Any]) -> None:
    from rich.table import Table

    from genlens._device import resolve_device
    from genlens.cli._common import console, write_json
    from genlens.errors import ConfigError
    from genlens.io.sources import open_source
    from genlens.budget import check_alpha
    from genlens.views import RunContext, get_view

    out, json_out = values["out"], values["json_out"]
    if out is not None:
        _refuse_inside(out, values["real"], values["fake"])
    view = get_view("semantics")
    options = options_from(view, values)
    real, fake = open_source(values["real"]), open_source(values["fake"])
    reason = view.applies(real, fake, options)
    if reason is not None:
        raise ConfigError(reason)
    device = values["device"]
    ctx = RunContext(device=str(resolve_device(None if device == "auto" else device)), seed=values["seed"],
                     alpha=check_alpha(values["alpha"]))
    result = view.compare(view.fit(real, options, ctx), fake, ctx)
    payload = result.to_dict()
    if out is not None:
        payload["figures"] = _write_figures(result.figures(), out)
    if json_out is not None:
        write_json(json_out, payload)
    c = result.comparison
    table = Table(title=f"Classes by z (FSD {c.fsd:.4g}; real split-half floor "
                        f"{'n/a' if c.fsd_floor is None else f'{c.fsd_floor:.4g}'}; areas are fractions)")
    for col in ("class", "real area", "fake area", f"diff [{int(options.level * 100)}% CI]", "real pres.",
                "fake pres.", "z"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for s in c.classes:
        table.add_row(s.name, f"{s.real_area:.4f}", f"{s.fake_area:.4f}",
                      f"{s.area_diff:+.4f} [{s.area_diff_ci[0]:+.4f}, {s.area_diff_ci[1]:+.4f}]",
                      f"{s.real_presence:.3f}", f"{s.fake_presence:.3f}", f"{s.z:+.1f}")
    console.print(table)
    console.print(result.summary())


build_command(app, "semantics", [
    *inputs(),
    *option_parameters(SemanticsOptions),
    *outputs("Write the figures (PNG) into this folder.", "Seed of the bootstrap and the real split-half floor."),
], _semantics, """Segment REAL and FAKE, compare per-class area and presence (bootstrap CIs), rank the classes the
generator under- or over-produces, and report the Fréchet Segmentation Distance with a real noise floor.

Example: genlens semantics zoo:real?n=500 'zoo:drop_class?name=car&n=500' --json sem.json --out sem/
""")


@app.command("invert")
def invert_command(
    images: str = typer.Argument(..., help="Real images to invert: a folder, a .npy/.npz array, or a zoo spec.",
                                 show_default=False),
    generator: str = typer.Option(..., "--generator", "-g", show_default=False,
                                  help="zoo-dcgan[?quick=1&exclude_class=car&epochs=..&epoch=..] or pkg.module:factory "
                                       "returning an nn.Sequential (latents -> images in [-1, 1])."),
    split: str = typer.Option(..., "--split", show_default=False,
                              help="Name of the last front block g_n; the blocks after it form G_f "
                                   "(zoo DCGAN: fc, block1, ...)."),
    out: Path = typer.Option(..., "--out", show_default=False, help="Folder for results, reconstructions and figures."),
    checkpoint: Optional[Path] = typer.Option(
        None, "--checkpoint", show_default=False,
        help="State dict (.pt) for the factory's generator (loaded weights_only)."),
    latent_dim: Optional[int] = typer.Option(None, "--latent-dim", min=1, show_default=False,
                                             help="Latent size, if the generator does not say (latent_dim attribute)."),
    segmenter: Optional[str] = typer.Option(
        None, "--segmenter", "-s", show_default=False,
        help="Segment images and reconstructions to list lost classes. " + _SEGMENTER_HELP),
    n: int = typer.Option(16, "--n", min=1, help="Invert the first N images."),
    steps: int = typer.Option(300, "--steps", min=1, help="Adam steps of the per-layer perturbations."),
    encoder_steps: int = typer.Option(300, "--encoder-steps", min=1, help="Training steps of each layer-wise inverse."),
    lambda_reg: float = typer.Option(0.1, "--lambda-reg", min=0.0,
                                     help="Weight of the perturbation penalty (relative to each layer's energy)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the encoder training."),
) -> None:
    """Reconstruct real images with the generator's later layers G_f (layer inversion, Bau et al. 2019) and,
    with --segmenter, list for each image the classes the reconstruction loses.

    Example: genlens invert 'zoo:real?n=16' --generator 'zoo-dcgan?exclude_class=car' --split block1 --segmenter zoo --out inv/
    """
    import numpy as np

    from genlens._fs import atomic_path
    from genlens.cli._common import console, write_json
    from genlens.io.sources import open_source
    from genlens.semantics import GeneratorSplit, get_segmenter, invert_and_inspect
    from genlens.semantics.generators import load_generator

    _refuse_inside(out, images)
    module, latent_shape = load_generator(generator, checkpoint, latent_dim)
    gsplit = GeneratorSplit.from_sequential(module, split, latent_shape)  # type: ignore[arg-type]
    source = open_source(images)
    batch = source.read(0, min(n, len(source)))
    seg = get_segmenter(segmenter) if segmenter else None
    result = invert_and_inspect(gsplit, batch, seg, encoder_steps=encoder_steps, steps=steps,
                                lambda_reg=lambda_reg, seed=seed)
    payload = {"generator": generator, "split": split, "images": source.describe(), **result.to_dict()}
    payload["figures"] = _write_figures(result.figures(), out)
    with atomic_path(out / "reconstructions.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, images=result.inversion.images, reconstructions=result.inversion.reconstructions,
                                initial=result.inversion.initial)
    write_json(out / "inversion.json", payload)
    inv = result.inversion
    console.print(f"mean L1 (pixels in [0,1]): {inv.l1_start.mean():.4f} from E(x) -> {inv.l1_final.mean():.4f} "
                  f"after layer inversion")
    if result.view is not None:
        lost = result.view.lost_counts()
        console.print("classes lost in the reconstructions: "
                      + (", ".join(f"{k} ({v} images)" for k, v in lost.items()) or "none"))
    console.print(f"wrote {out}")
