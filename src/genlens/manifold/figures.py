"""Figures of the latent-manifold view. Each returns a ``matplotlib.figure.Figure``.

Figures are built with the object API (no pyplot state, no backend switch), so drawing works the
same in scripts, servers and notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from genlens.manifold.result import CrossManifoldResult, ManifoldResult


def _subplots(
    nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.0), **kw: Any
) -> tuple[Figure, Any]:
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kw)


def entropy_spectrum(results: Mapping[str, ManifoldResult]) -> Figure:
    """Sorted per-dimension entropies, one line per model; hollow markers are inactive dimensions."""
    fig, ax = _subplots(figsize=(6.4, 4.0))
    for name, res in results.items():
        ranks = np.arange(1, res.latent_dim + 1)
        values = res.entropy[res.order]
        active = res.active[res.order]
        (line,) = ax.plot(ranks, values, "-", lw=1.2, label=f"{name} ({res.n_active}/{res.latent_dim} active)")
        ax.plot(ranks[active], values[active], "o", color=line.get_color(), ms=4)
        ax.plot(ranks[~active], values[~active], "o", mfc="none", color=line.get_color(), ms=4)
    ax.set_xscale("log")
    ax.set_xlabel("latent dimension, ranked by entropy")
    h0_note = "incl. h0" if any(r.h0 > 0 for r in results.values()) else "without h0"
    ax.set_ylabel(f"manifold entropy H_i (nats, {h0_note})")
    ax.set_title("Entropy spectrum (hollow: inactive)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def mi_heatmap(res: ManifoldResult, max_dims: int = 64) -> Figure:
    """Pairwise manifold MI with dimensions in entropy order (strongest first)."""
    order = res.order[:max_dims]
    mi = res.pairwise_mi[np.ix_(order, order)]
    size = min(7.0, 2.5 + 0.12 * len(order))
    fig, ax = _subplots(figsize=(size + 1.0, size))
    im = ax.imshow(mi, cmap="magma", vmin=0.0, vmax=max(float(mi.max()), 1e-9))
    labels = [str(i) for i in order]
    step = max(1, len(order) // 24)
    ax.set_xticks(range(0, len(order), step), labels[::step], fontsize=7, rotation=90)
    ax.set_yticks(range(0, len(order), step), labels[::step], fontsize=7)
    ax.set_xlabel("latent dimension (entropy order)")
    ax.set_title("Pairwise manifold MI (nats)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return fig


def cross_mi_figure(cross: CrossManifoldResult) -> Figure:
    """Cross-model manifold MI beside the Pearson correlation of the latents, both in entropy order."""
    a, b = cross.names
    mi = cross.mi[np.ix_(cross.order_a, cross.order_b)]
    corr = cross.pearson[np.ix_(cross.order_a, cross.order_b)]
    fig, axes = _subplots(1, 2, figsize=(10.0, 4.4))
    for ax, data, title, cmap, lims in (
        (axes[0], mi, "cross-model manifold MI (nats)", "magma", (0.0, max(float(mi.max()), 1e-9))),
        (axes[1], corr, "Pearson correlation of latents", "RdBu_r", (-1.0, 1.0)),
    ):
        im = ax.imshow(data, cmap=cmap, vmin=lims[0], vmax=lims[1], aspect="auto")
        ax.set_xticks(range(len(cross.order_b)), [str(i) for i in cross.order_b], fontsize=7)
        ax.set_yticks(range(len(cross.order_a)), [str(i) for i in cross.order_a], fontsize=7)
        ax.set_xlabel(f"{b} latent")
        ax.set_ylabel(f"{a} latent")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def column_images(res: ManifoldResult, top: int = 8) -> Figure | None:
    """Averaged Jacobian columns ``E_z[J_i]`` of the ``top`` strongest dimensions, drawn as images.

    One row per class when conditional. Red/blue: what increasing ``z_i`` adds/removes; colour images
    show the change around mid-grey. ``None`` when the output is not image-shaped.
    """
    shape = res.output_shape
    if len(shape) < 2 or (len(shape) == 3 and shape[0] not in (1, 3)):
        return None
    dims = res.order[: min(top, res.latent_dim)]
    rows = res.class_column_means if res.class_column_means is not None else res.column_means[None]
    row_names = list(res.classes) if res.class_column_means is not None else [""]
    fig, axes = _subplots(len(rows), len(dims), figsize=(1.3 * len(dims), 1.4 * len(rows) + 0.4), squeeze=False)
    for r, cols in enumerate(rows):
        for c, dim in enumerate(dims):
            ax = axes[r, c]
            img = cols[dim].reshape(shape)
            scale = max(float(np.abs(img).max()), 1e-12)
            if img.ndim == 3 and img.shape[0] == 3:
                ax.imshow(np.clip(0.5 + 0.5 * img.transpose(1, 2, 0) / scale, 0, 1))
            else:
                ax.imshow(img.reshape(shape[-2:]), cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"z{dim}" + ("" if res.active[dim] else " (inactive)"), fontsize=8)
            if c == 0 and row_names[r]:
                ax.set_ylabel(row_names[r], fontsize=8)
    fig.suptitle("Averaged Jacobian columns (strongest dimensions first)", fontsize=9)
    return fig


def entropy_decomposition(results: Mapping[str, ManifoldResult]) -> Figure:
    """``sum_i H_i = H + MTC`` per model: how much of the per-dimension entropy is shared."""
    names = [k for k, r in results.items() if r.total_correlation is not None]
    fig, ax = _subplots(figsize=(max(4.0, 1.3 * len(names) + 2.0), 3.8))
    x = np.arange(len(names))
    sums = [results[k].sum_entropy for k in names]
    totals = [results[k].total_entropy for k in names]
    mtcs = [results[k].total_correlation for k in names]
    ax.bar(x - 0.27, sums, 0.27, label="sum of H_i (active)")
    ax.bar(x, totals, 0.27, label="H (joint)")
    ax.bar(x + 0.27, mtcs, 0.27, label="MTC = sum H_i - H")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("nats")
    ax.set_title("Entropy decomposition")
    ax.legend(fontsize=8)
    return fig
