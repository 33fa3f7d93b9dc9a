"""Report sections that show the zoo's reference models: what the demo's networks learned.

Each function trains the model on first use (cached afterwards) and returns a :class:`Section`; a
model that is not available yet, or fails, becomes a failed section rather than stopping the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from genlens.views.section import Figure, Section, Table

HELD_OUT_SEED = 987_654  # a world seed no zoo model trains on


def guarded(key: str, title: str, build: Callable[[], Section]) -> Section:
    """``build()``, or a failed section naming the error."""
    try:
        return build()
    except Exception as err:  # noqa: BLE001 -- a missing model must not stop the demo
        return Section.unavailable(key, title, "failed", f"{type(err).__name__}: {err}")


def _grid(images: np.ndarray, rows: int) -> np.ndarray:
    """uint8 ``(n, 3, H, W)`` -> one ``(rows*H, cols*W, 3)`` mosaic with 1-px white gutters."""
    n, _, h, w = images.shape
    cols = -(-n // rows)
    canvas = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1, 3), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = img.transpose(1, 2, 0)
    return canvas


def _image_figure(name: str, mosaic: np.ndarray, caption: str, width: float = 7.0, labels: list[str] | None = None) -> Figure:
    from genlens.plotting import pyplot

    plt = pyplot()

    h, w = mosaic.shape[:2]
    fig, ax = plt.subplots(figsize=(width, width * h / w + 0.2))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    if labels:
        for i, text in enumerate(labels):
            ax.text(-2, (i + 0.5) * h / len(labels), text, ha="right", va="center", fontsize=9)
    return Figure.from_matplotlib(name, fig, caption=caption)


def vae_section(quick: bool, beta: float = 4.0, cache_dir: str | Path | None = None) -> Section:
    """Digits and their beta-VAE reconstructions (posterior mean through the decoder)."""
    from genlens.zoo.models import vae
    from genlens.zoo.models.digits_vae import load_digits_tensor

    model = vae(beta=beta, quick=quick, cache_dir=cache_dir)
    images, _ = load_digits_tensor()
    x = images[-16:]  # the last digits of the set (the VAE trains on all of them)
    with torch.no_grad():
        mu, _ = model.encode(x)
        recon = model.decode(mu)
    mse = float(((recon - x) ** 2).mean())
    to_u8 = lambda t: (t.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1).numpy()  # noqa: E731
    mosaic = _grid(np.concatenate([to_u8(x), to_u8(recon)]), rows=2)
    fig = _image_figure(
        "reconstructions",
        mosaic,
        f"Top: 16 digits (8x8, scikit-learn). Bottom: their reconstructions by the beta={beta:g} VAE "
        f"({model.latent_dim} latent dimensions), decoding the posterior mean. Mean squared error {mse:.4f}.",
        labels=["input", "recon"],
    )
    return Section(
        key="vae",
        title=f"Beta-VAE on digits (beta={beta:g}{', quick' if quick else ''})",
        summary=f"The VAE reconstructs digits with mean squared error {mse:.4f} per pixel (pixels in [0, 1]).",
        figures=(fig,),
        data={"beta": beta, "latent_dim": model.latent_dim, "quick": quick, "reconstruction_mse": mse},
    )


def dcgan_section(quick: bool, size: int = 32, cache_dir: str | Path | None = None, device: str | None = None) -> Section:
    """DCGAN samples of the same latents at the first, middle and last checkpoint, and its losses."""
    from genlens.plotting import pyplot

    plt = pyplot()

    from genlens.zoo.models import dcgan
    from genlens.zoo.models.reference import demo_dcgan_epochs

    run = dcgan(size=size, quick=quick, keep_epochs=demo_dcgan_epochs(quick), cache_dir=cache_dir, device=device)
    epochs = list(run.kept_epochs)
    per_row = 10
    rows = [run.sample(per_row, seed=0, epoch=e).numpy() for e in epochs]
    fig_samples = _image_figure(
        "samples",
        _grid(np.concatenate(rows), rows=len(epochs)),
        f"The same {per_row} latents through the DCGAN generator after epochs {', '.join(map(str, epochs))} "
        "(top to bottom; epoch 0 = untrained).",
        labels=[f"epoch {e}" for e in epochs],
    )
    losses = run.losses
    fig, ax = plt.subplots(figsize=(5, 2.6))
    steps = np.arange(1, len(losses["discriminator"]) + 1)
    ax.plot(steps, losses["discriminator"], marker="o", label="discriminator")
    ax.plot(steps, losses["generator"], marker="o", label="generator")
    ax.set_xlabel("epoch")
    ax.set_xticks(steps)
    ax.set_ylabel("mean loss")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig_losses = Figure.from_matplotlib("losses", fig, caption="Mean adversarial losses per training epoch.")
    return Section(
        key="dcgan",
        title=f"DCGAN on the world ({size}px, {run.epochs} epochs{', quick' if quick else ''})",
        summary=f"A small DCGAN trained on {run.config['n_train']} world scenes; a checkpoint is kept for every epoch.",
        figures=(fig_samples, fig_losses),
        data={"config": run.config, "losses": losses},
    )


def manifold_section(quick: bool, betas: tuple[float, ...] = (1.0, 4.0), cache_dir: str | Path | None = None, device: str | None = None) -> Section:
    """The latent-manifold view on beta-VAEs: which latent dimensions each decoder actually uses."""
    from genlens.manifold.analyze import analyze
    from genlens.manifold.section import build_section
    from genlens.zoo.models import vae

    n = 100 if quick else 400
    results = {}
    for beta in betas:
        model = vae(beta=beta, quick=quick, cache_dir=cache_dir)
        results[f"beta={beta:g}"] = analyze(model.decode, model.latent_dim, n, n_boot=50, device=device)
    (main, res), *others = results.items()  # the least regularised VAE leads; the others are overlaid
    return build_section(res, name=main, others=dict(others))


def reference_nets_section(quick: bool, size: int = 32, n: int = 500, cache_dir: str | Path | None = None, device: str | None = None) -> Section:
    """Held-out accuracy of the zoo classifier and mean IoU of the zoo segmenter (the views rely on them)."""
    from genlens.zoo import CLASSES, World
    from genlens.zoo.models import classifier, segmenter
    from genlens.zoo.models.scene_segmenter import per_class_iou

    scenes = World(size=size).sample(n, seed=HELD_OUT_SEED)
    images = torch.from_numpy(scenes.images)
    rows = []
    data = {"n_held_out": n, "quick": quick}
    clf = classifier(size=size, quick=quick, cache_dir=cache_dir, device=device)
    acc = float((clf.predict(images, device=device).cpu().numpy() == scenes.main_class).mean())
    rows.append(("zoo classifier (main object class)", "accuracy", acc))
    data["classifier_accuracy"] = acc
    seg = segmenter(size=size, quick=quick, cache_dir=cache_dir, device=device)
    pred = torch.as_tensor(seg(images)).cpu().numpy()
    ious = per_class_iou(pred, scenes.labels, len(CLASSES))
    rows.append(("zoo segmenter (per-pixel class)", "mean IoU", float(np.nanmean(ious))))
    data["segmenter_iou"] = {c: v for c, v in zip(CLASSES, ious.tolist())}
    return Section(
        key="reference-nets",
        title="Reference networks (zoo classifier and segmenter)",
        summary=(
            f"On {n} held-out world images the classifier is {acc:.1%} accurate and the segmenter reaches "
            f"mean IoU {np.nanmean(ious):.3f}; the metrics use the classifier's penultimate features, the "
            "semantic view the segmenter."
        ),
        table=Table(("network", "measure", "value"), tuple(rows)),
        data=data,
    )

