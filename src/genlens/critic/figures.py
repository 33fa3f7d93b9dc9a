"""Figures and the report section of the critic view (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from genlens.critic.result import KEY, TITLE
from genlens.plotting import pyplot
from genlens.views.section import Figure, Section, Table

if TYPE_CHECKING:
    from genlens.critic.result import CriticResult


def gap_map(result: CriticResult) -> Figure:
    """The per-pixel logit gap over the (grey) mean real image; significant regions outlined.

    The colour scale is symmetric about 0 and reaches at least twice the gap a block needs to be
    significant at the noisiest pixel: the largest of a thousand pixels of pure noise comes close to
    the threshold, so anchoring at the threshold itself would still paint noise half red; at twice
    it, noise stays pale and anything past mid-colour is beyond the threshold.
    """
    plt = pyplot()
    from matplotlib.patches import Rectangle

    threshold = float(np.nanmax(result.gap_se)) * result.threshold_z if result.gap_se.size else 0.0
    vmax = max(float(np.abs(result.gap).max()), 2.0 * threshold, 1e-6)
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    ax.imshow(result.mean_real.mean(axis=-1), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    im = ax.imshow(result.gap, cmap="RdBu_r", vmin=-vmax, vmax=vmax, alpha=0.75, interpolation="nearest")
    for r in result.regions:
        if r.significant:
            top, left, bottom, right = r.box
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, edgecolor="black",
                                   linewidth=1.6))
    fig.colorbar(im, ax=ax, fraction=0.046, label="logit gap (generated - real)")
    ax.set_title("where generated images give themselves away (outlined: significant)", fontsize=9)
    ax.axis("off")
    return Figure.from_matplotlib("map", fig, "Held-out per-pixel 'generated' logit of generated minus real images, "
                                  "over the mean real image. Red: the critic finds generated images out there (past "
                                  "mid-colour: beyond the significance threshold); pale: within noise.")


def image_grid(images: np.ndarray, names: Sequence[str], title: str, name: str, caption: str) -> Figure | None:
    """One row (two if many) of uint8 ``(k, 3, H, W)`` images, each titled with its name."""
    if len(images) == 0:
        return None
    plt = pyplot()
    cols = min(len(images), 8)
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.45 * rows + 0.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, label in zip(axes.ravel(), images, names):
        ax.imshow(np.transpose(image, (1, 2, 0)), interpolation="nearest")
        ax.set_title(short_name(label), fontsize=7)
    fig.suptitle(title, fontsize=9)
    return Figure.from_matplotlib(name, fig, caption)


def short_name(name: str, width: int = 14) -> str:
    """A file's base name (or ``#i``), cut to ``width`` characters so grid titles do not run together."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base if len(base) <= width else base[: width - 1] + "\u2026"


def critic_section(result: CriticResult) -> Section:
    """The report section: the summary from the findings, the map, the two grids, a table per fold."""
    figures = [
        gap_map(result),
        image_grid(result.real_example_images, result.real_names, "held-out real images the critic is surest are real",
                   "real", "Real images no generated image resembles, if the mode test is significant: "
                   "what the generator misses."),
        image_grid(result.fake_example_images, result.fake_names,
                   "held-out generated images the critic is surest are fake", "fake",
                   "The generator's most obvious failures, as a critic that never saw them judges."),
    ]
    table = Table(
        columns=("fold", "held-out real", "held-out generated", "accuracy"),
        rows=tuple((k, m, m, round(a, 4)) for k, (m, a) in enumerate(zip(result.fold_sizes, result.fold_accuracy)))
        + (("all", result.n, result.n, round(result.accuracy, 4)),),
    )
    plan = result.plan
    note = (f"Critic: {plan.depth} conv layers, width {plan.width}, receptive field {result.receptive_field} px, "
            f"{plan.epochs} epochs (at least {plan.min_steps} batches); every score is held out ({result.folds}-fold "
            f"cross-fitting). Each of the three families of tests (global, map, mode) is judged at "
            f"{100 * result.alpha:.2g}%, an equal part of the view's share of the report's false-alarm budget.")
    return Section(key=KEY, title=TITLE, summary=result.summary(), figures=tuple(f for f in figures if f is not None),
                   table=table, data=result.to_dict(), notes=(note,), findings=result.findings(),
                   families=result.families())
