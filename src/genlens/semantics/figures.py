"""Figures of the semantics view (matplotlib, Agg): class areas, presence, and instance grids."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genlens.plotting import pyplot
from genlens.views.section import Figure
from genlens.semantics.instance import InstanceView
from genlens.semantics.statistics import SemanticComparison

REAL_COLOR, FAKE_COLOR = "#4c72b0", "#dd8452"




def _top(comparison: SemanticComparison, max_classes: int) -> list:  # type: ignore[type-arg]
    """Classes ordered by |z|, largest discrepancy first."""
    return sorted(comparison.classes, key=lambda c: -abs(c.z))[:max_classes]


def area_figure(comparison: SemanticComparison, max_classes: int = 25) -> Figure:
    """Mean area fraction per class, real vs generated, with the difference's CI; sorted by |z|."""
    plt = pyplot()
    stats = _top(comparison, max_classes)
    names = [c.name for c in stats]
    x = np.arange(len(stats))
    fig, (ax_top, ax_bot) = plt.subplots(2, 1, figsize=(max(6.0, 0.45 * len(stats) + 2), 6.2), sharex=True,
                                         gridspec_kw={"height_ratios": [1.3, 1]})
    ax_top.bar(x - 0.2, [c.real_area for c in stats], 0.4, label="real", color=REAL_COLOR)
    ax_top.bar(x + 0.2, [c.fake_area for c in stats], 0.4, label="generated", color=FAKE_COLOR)
    ax_top.set_ylabel("mean area fraction")
    ax_top.legend(frameon=False)
    diff = np.array([c.area_diff for c in stats])
    lo = np.array([c.area_diff_ci[0] for c in stats])
    hi = np.array([c.area_diff_ci[1] for c in stats])
    colors = [FAKE_COLOR if d > 0 else REAL_COLOR for d in diff]
    ax_bot.bar(x, diff, 0.6, color=colors, yerr=np.vstack([diff - lo, hi - diff]), capsize=3)
    ax_bot.axhline(0, color="black", lw=0.8)
    ax_bot.set_ylabel(f"generated - real\n({int(comparison.level * 100)}% CI)")
    ax_bot.set_xticks(x, names, rotation=45, ha="right")
    fig.suptitle(f"Class areas, sorted by |z| (FSD {comparison.fsd:.3g}, real split-half floor "
                 f"{_fmt(comparison.fsd_floor)})", fontsize=10)
    fig.tight_layout()
    return Figure.from_matplotlib(
        "areas", fig,
        caption="Mean fraction of image pixels per class (top) and the generated-minus-real difference with "
                "its bootstrap CI (bottom). Classes with the most certain discrepancy come first.")


def presence_figure(comparison: SemanticComparison, max_classes: int = 25) -> Figure:
    """Fraction of images in which each class appears, real vs generated, with the difference's CI."""
    plt = pyplot()
    stats = _top(comparison, max_classes)
    x = np.arange(len(stats))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(stats) + 2), 3.6))
    fake = np.array([c.fake_presence for c in stats])
    lo = fake - np.array([c.real_presence + c.presence_diff_ci[0] for c in stats])
    hi = np.array([c.real_presence + c.presence_diff_ci[1] for c in stats]) - fake
    ax.bar(x - 0.2, [c.real_presence for c in stats], 0.4, label="real", color=REAL_COLOR)
    ax.bar(x + 0.2, fake, 0.4, label="generated", color=FAKE_COLOR,
           yerr=np.vstack([np.clip(lo, 0, None), np.clip(hi, 0, None)]), capsize=3)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of images containing it")
    ax.set_xticks(x, [c.name for c in stats], rotation=45, ha="right")
    ax.legend(frameon=False)
    fig.tight_layout()
    return Figure.from_matplotlib(
        "presence", fig,
        caption="How often each class appears at all. Error bars: CI of the generated-minus-real difference, "
                "drawn around the generated bar. A class drawn less often drops here; one drawn smaller only "
                "in the area chart.")


def label_colors(n_classes: int) -> np.ndarray:
    """A fixed RGB colour per class id (tab20, cycled)."""
    plt = pyplot()
    cmap = plt.get_cmap("tab20")
    return np.array([cmap(i % 20)[:3] for i in range(n_classes)])


def instance_figure(view: InstanceView, indices: Sequence[int] | None = None, max_rows: int = 6) -> Figure:
    """Rows of: image, reconstruction, both segmentations, lost-pixel mask (with the lost classes named)."""
    plt = pyplot()
    if indices is None:
        indices = view.worst(k=max_rows) or list(range(min(max_rows, len(view.findings))))
    indices = list(indices)[:max_rows]
    colors = label_colors(len(view.classes))
    fig, axes = plt.subplots(len(indices), 5, figsize=(9.0, 1.95 * len(indices) + 0.6), squeeze=False)
    titles = ("image x", "reconstruction x'", "segmentation of x", "segmentation of x'", "lost pixels")
    used: set[int] = set()
    for row, i in enumerate(indices):
        f = view.findings[i]
        panels = (
            view.images[i].transpose(1, 2, 0),
            view.reconstructions[i].transpose(1, 2, 0),
            colors[view.labels[i]],
            colors[view.reconstruction_labels[i]],
            _overlay(view.images[i], view.lost_mask[i]),
        )
        used.update(np.unique(view.labels[i]).tolist())
        used.update(np.unique(view.reconstruction_labels[i]).tolist())
        for col, (ax, panel) in enumerate(zip(axes[row], panels)):
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=8)
        axes[row, 4].set_xlabel("lost: " + (", ".join(f.lost) or "none"), fontsize=7)
        axes[row, 0].set_ylabel(f"#{i}", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[c]) for c in sorted(used)]
    fig.legend(handles, [view.classes[c] for c in sorted(used)], loc="lower center",
               ncol=min(8, len(handles)), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return Figure.from_matplotlib(
        "instances", fig,
        caption="Real images, their closest reconstruction by the generator's later layers, both "
                "segmentations and the pixels of classes the reconstruction loses (red).")


def _overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    rgb = image.transpose(1, 2, 0).astype(np.float64) / 255.0 * 0.45
    rgb[mask] = (1.0, 0.1, 0.1)
    return rgb


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
