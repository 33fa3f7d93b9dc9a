"""Figures and the report section of the regions view (matplotlib, Agg)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from genlens.plotting import pyplot
from genlens.views.section import Figure, Section, Table

if TYPE_CHECKING:
    from genlens.regions.result import RegionsResult

KEY = "regions"
TITLE = "Regions: where the generator differs (pixel clusters and cluster-wise CMS)"




def _cluster_colors(k: int) -> np.ndarray:
    cmap = pyplot().get_cmap("tab20" if k > 10 else "tab10")
    return np.array([cmap(i % cmap.N) for i in range(k)])


def cluster_map(result: RegionsResult) -> Figure:
    """Cluster labels drawn semi-transparently over the mean real image, with cluster ids."""
    plt = pyplot()
    labels = result.image_labels()
    colors = _cluster_colors(result.partition.k)
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    if result.mean_real is not None:
        ax.imshow(result.mean_real, interpolation="nearest")
        ax.imshow(colors[labels][..., :3], alpha=0.55, interpolation="nearest")
    else:
        ax.imshow(colors[labels][..., :3], interpolation="nearest")
    for c, (y, x) in zip(result.clusters, label_positions(labels, result.partition.k)):
        ax.text(x, y, str(c.id), ha="center", va="center", fontsize=8, fontweight="bold",
                color="white", bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0})
    ax.set_title(f"{result.partition.k} pixel clusters over the mean real image", fontsize=9)
    ax.axis("off")
    return Figure.from_matplotlib("clusters", fig, "Pixel clusters (ids at each cluster's centroid).")


def label_positions(labels: np.ndarray, k: int, spacing: float | None = None) -> list[tuple[float, float]]:
    """Where to write each cluster's id: deep inside the cluster, and apart from the ids already placed.

    A centroid can fall outside its cluster (a ring, two separate blobs) and on top of another
    cluster's id. Each cluster's pixels are ranked by their distance to the cluster's edge; larger
    clusters choose first, and each takes its deepest pixel at least ``spacing`` pixels (default: a
    tenth of the image side) from every id placed before, or its deepest pixel if none is that far.
    """
    from scipy.ndimage import distance_transform_edt

    spacing = spacing if spacing is not None else max(labels.shape) / 10
    order = np.argsort(-np.bincount(labels.ravel(), minlength=k))
    placed: dict[int, tuple[float, float]] = {}
    for j in order:
        inside = labels == j
        if not inside.any():
            placed[int(j)] = (0.0, 0.0)
            continue
        depth = distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1]
        ys, xs = np.nonzero(inside)
        ranked = np.argsort(-depth[ys, xs], kind="stable")
        choice = ranked[0]
        for i in ranked:
            if all((ys[i] - py) ** 2 + (xs[i] - px) ** 2 >= spacing**2 for py, px in placed.values()):
                choice = i
                break
        placed[int(j)] = (float(ys[choice]), float(xs[choice]))
    return [placed[j] for j in range(k)]


def ordered_cka(result: RegionsResult) -> Figure | None:
    """The CKA matrix with pixels grouped by cluster; lines mark the cluster blocks."""
    mat = result.partition.ordered_cka()
    if mat is None:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    im = ax.imshow(mat, cmap="Reds", vmin=0.0, vmax=1.0, interpolation="nearest")
    edges = np.cumsum(result.partition.sizes)[:-1] - 0.5
    for e in edges:
        ax.axhline(e, color="black", lw=0.6)
        ax.axvline(e, color="black", lw=0.6)
    fig.colorbar(im, ax=ax, fraction=0.046, label="CKA")
    ax.set_title(f"pixel CKA ordered by cluster (max cross-cluster {result.partition.max_cross_cka:.2f})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return Figure.from_matplotlib("cka", fig, "Pixel-wise CKA on real images, grouped by cluster.")


def cms_bars(result: RegionsResult) -> Figure:
    """Cluster CMS with CIs and floors, beside the image CMS and the product of cluster CMS."""
    plt = pyplot()
    names = [str(c.id) for c in result.clusters] + ["image", "prod."]
    values = [c.cms for c in result.clusters] + [result.image, result.product]
    cis = [c.ci for c in result.clusters] + [result.image_ci, result.product_ci]
    floors = [c.floor for c in result.clusters] + [result.image_floor, np.nan]
    colors = list(_cluster_colors(result.partition.k)) + ["0.35", "0.6"]
    x = np.append(np.arange(len(result.clusters)), len(result.clusters) + 0.5 + np.arange(2) * 1.2)  # a gap, wide bars
    lo = np.nan_to_num(np.array([v - ci[0] for v, ci in zip(values, cis)]))  # no CI (n_boot=0): no bar
    hi = np.nan_to_num(np.array([ci[1] - v for v, ci in zip(values, cis)]))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.5 * len(names) + 2.0), 3.4))
    ax.bar(x, values, color=colors, yerr=np.vstack([lo.clip(0), hi.clip(0)]), capsize=3)
    ax.scatter(x, floors, marker="_", s=250, color="black", zorder=3, label="real-vs-real floor")
    low = float(np.nanmin([*values, *floors, *(ci[0] for ci in cis)]))
    ax.set_ylim(max(0.0, low - 0.1 * (1.0 - low) - 1e-3), min(1.02, max(max(values), 1.0) + 0.005))
    ax.set_xticks(x, names, fontsize=8)
    ax.set_xlabel("cluster")
    ax.set_ylabel(f"CMS ({result.plan.estimator}, {result.plan.mode})")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"cluster-wise CMS with {int(result.plan.level * 100)}% bootstrap CIs", fontsize=9)
    return Figure.from_matplotlib("cms", fig, "Higher is better; a bar well below its floor is a real deficit.")


def deficit_map(result: RegionsResult) -> Figure:
    """Each pixel coloured by its cluster's deficit ``log(floor / CMS)``; hatched clusters are significant."""
    plt = pyplot()
    dmap = result.deficit_map()
    # anchored at the deficit a cluster needs to be significant: noise stays pale, a real deficit is red
    vmax = max(float(np.abs(dmap).max()), _significant_deficit(result), 1e-6)
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    im = ax.imshow(dmap, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    sig = np.array([c.significant for c in result.clusters])[result.image_labels()]
    if sig.any():
        ax.contour(sig.astype(float), levels=[0.5], colors="black", linewidths=1.2)
    fig.colorbar(im, ax=ax, fraction=0.046, label="log(floor / CMS)")
    ax.set_title("CMS deficit per pixel (outlined: significant clusters)", fontsize=9)
    ax.axis("off")
    return Figure.from_matplotlib("deficit", fig, "Red: worse than a second real sample; blue: within noise.")


def _significant_deficit(result: RegionsResult) -> float:
    """The smallest deficit (log scale) that would make the widest-CI cluster significant."""
    from genlens.statistics import familywise_z, z_of_level

    halves = [0.5 * (np.log(c.ci[1]) - np.log(c.ci[0])) for c in result.clusters if c.ci[1] > c.ci[0] > 0]
    if not halves:
        return 0.0
    threshold = familywise_z(result.partition.k, 2.0 * result.alpha)  # one-sided: Holm's first step
    return float(max(halves) / z_of_level(result.plan.level) * np.sqrt(2.0) * threshold)


def regions_summary(result: RegionsResult) -> str:
    """The headline from the same evidence as the table: which clusters fall below their floor, or none."""
    worst = result.worst
    top, left, bottom, right = result.box(worst)
    where = f"rows {top}-{bottom - 1}, cols {left}-{right - 1}"
    on = "" if result.representation == "pixels" else f" on {result.representation}"
    head = f"Image CMS{on} {result.image:.4f} (product of {result.partition.k} clusters {result.product:.4f}). "
    if not np.isfinite(worst.floor):
        return head + (f"Worst region: cluster {worst.id} ({worst.n_pixels} px, {where}), CMS {worst.cms:.4f}; "
                       "no real-vs-real floor was computed, so no cluster is judged.")
    found = [c for c in result.clusters if c.significant]
    if not found:
        return head + (f"No pixel cluster falls below its real-vs-real floor beyond noise (closest: cluster {worst.id}, "
                       f"{where}, {worst.score:.1f} noise units).")
    return head + (f"{len(found)} of {result.partition.k} pixel clusters fall below their real-vs-real floor beyond "
                   f"noise; worst: cluster {worst.id} ({worst.n_pixels} px, {where}), CMS {worst.cms:.4f} vs floor "
                   f"{worst.floor:.4f}, {worst.score:.1f} noise units; it carries {100 * worst.share:.0f}% of -log CMS.")


def decomposition_sentence(result: RegionsResult) -> str:
    """Whether the product of cluster CMS is the image CMS, and what the cluster numbers mean if not."""
    if not np.isfinite(result.gap):
        return ""
    if result.factorises():
        return (f" The image CMS factorises into the cluster CMS within noise (log gap {result.gap:+.4f}), so each "
                "cluster's share of -log CMS is its part of the image's deficit.")
    real = (f"; two halves of the real set show a gap of {result.floor_gap:+.3f}, so it comes from the kernel's width "
            "at this sample size, not from the generator" if np.isfinite(result.floor_gap) else "")
    return (f" The product of cluster CMS is not the image CMS here (log gap {result.gap:+.3f}{real}): read each "
            "cluster's CMS against its own floor, as a per-region similarity, not as a factor of the image CMS.")


def regions_section(result: RegionsResult) -> Section:
    """The report section: summary naming the significant clusters and where they are, figures and a table."""
    summary = regions_summary(result) + decomposition_sentence(result)
    figures = [cluster_map(result), ordered_cka(result), cms_bars(result), deficit_map(result)]
    table = Table(
        columns=("cluster", "pixels", "CMS", "CI low", "CI high", "floor", "deficit", "share"),
        rows=tuple(
            (c.id, c.n_pixels, round(c.cms, 5), round(c.ci[0], 5), round(c.ci[1], 5), round(c.floor, 5),
             round(c.deficit, 5), round(c.share, 3))
            for c in result.clusters
        ),
    )
    return Section(key=KEY, title=TITLE, summary=summary, figures=tuple(f for f in figures if f is not None),
                   table=table, data=result.to_dict(), findings=result.findings(), families=(result.family(),))
