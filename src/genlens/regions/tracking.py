"""The regions view over training steps: which cluster broke, and the figures of the tracking report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genlens.plotting import Series, aligned, integer_steps, mark_events, panel_grid, pyplot, runs_band
from genlens.views.base import StepEvidence, shares
from genlens.views.section import Figure, Section

CMS, PRODUCT, CLUSTER_PREFIX = "regions/cms", "regions/cms_product", "regions/cluster_"


def cluster_causes(evidence: StepEvidence) -> list[dict[str, Any]]:
    """Each cluster's exact share of the fall of the product of cluster CMS.

    ``log(product) = sum_j log CMS_j``, so the fall of ``log CMS_j`` from the previous step is cluster
    ``j``'s part of the fall of the product (and, as the product tracks the image CMS, of it).
    """
    drop = {}
    for name in evidence.series:
        if name.startswith(CLUSTER_PREFIX):
            old, new = evidence.value(name, evidence.prev), evidence.value(name, evidence.step)
            if old is not None and new is not None and old > 0 and new > 0:
                drop[name] = float(np.log(old) - np.log(new))  # > 0: the cluster got worse
    return shares(drop, "cluster", lambda m: int(m.rsplit("_", 1)[1]), evidence.rule.max_causes,
                  evidence.rule.min_share)


def product_correlation(series: Series) -> dict[str, float]:
    """Per run: Pearson correlation over steps of the image CMS and the product of cluster CMS."""
    out = {}
    for run, per in series.items():
        if CMS in per and PRODUCT in per:
            a, b = dict(per[CMS]), dict(per[PRODUCT])
            steps = sorted(set(a) & set(b))
            x, y = np.array([a[s] for s in steps]), np.array([b[s] for s in steps])
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() >= 3 and x[ok].std() > 0 and y[ok].std() > 0:
                out[run] = float(np.corrcoef(x[ok], y[ok])[0, 1])
    return out


def cms_vs_product(series: Series, events: Sequence[Any] = ()) -> Any:
    """Image CMS (solid) and product of cluster CMS (dashed) per run, and one against the other."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    _, image, runs = aligned(series, CMS)
    steps, product, _ = aligned(series, PRODUCT)
    for i, run in enumerate(runs):
        c = colors[i % len(colors)]
        left.plot(steps, image[i], color=c, lw=1.5, label=run)
        left.plot(steps, product[i], color=c, lw=1.2, ls="--")
        right.scatter(image[i], product[i], color=c, s=14)
    mark_events(left, events, CMS)
    integer_steps(left)
    left.set(xlabel="step", ylabel="CMS", title="image CMS (solid) vs product of cluster CMS (dashed)")
    left.legend(fontsize=7)
    finite = np.isfinite(image) & np.isfinite(product)
    if finite.any():
        lo, hi = float(min(image[finite].min(), product[finite].min())), float(max(image[finite].max(), product[finite].max()))
        right.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls=":")
    right.set(xlabel="image CMS", ylabel="product of cluster CMS", title="the product should track the image CMS")
    for ax in (left, right):
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def cluster_panels(series: Series, labels: np.ndarray | None, events: Sequence[Any] = (),
                   highlight: Sequence[str] = ()) -> Any:
    """Each cluster's CMS over steps (mean and band over runs), with the cluster's pixels as an inset."""
    clusters = sorted(m for m in {m for r in series.values() for m in r} if m.startswith(CLUSTER_PREFIX))
    fig, axes = panel_grid(len(clusters))
    for ax, metric in zip(axes, clusters):
        runs_band(ax, series, metric, "tab:green", highlight)
        j = int(metric.rsplit("_", 1)[1])
        flagged = {e.step for e in events if any(c["kind"] == "cluster" and c["id"] == j for c in e.causes)}
        for s in flagged:
            ax.axvline(s, color="crimson", lw=1.0, ls=":")
        ax.set_title(f"cluster {j}", fontsize=9)
        ax.tick_params(labelsize=7)
        if labels is not None:
            inset = ax.inset_axes([0.72, 0.05, 0.26, 0.35])
            inset.imshow(labels == j, cmap="Greens", vmin=0, vmax=1, interpolation="nearest")
            inset.set_xticks([])
            inset.set_yticks([])
    fig.suptitle("cluster-wise CMS (mean and min-max band over runs; inset: the cluster's pixels)", fontsize=10)
    fig.tight_layout()
    return fig


def track_section(result: Any) -> list[Section]:
    """The tracking report's regions section: image CMS vs product, and each cluster's CMS over steps."""
    if CMS not in result.metrics:
        return []
    corr = product_correlation(result.series)
    labels = result.reference.get("regions", {}).get("partition", {}).get("labels")
    labels = np.asarray(labels) if labels is not None else None
    figs = (Figure.from_matplotlib("cms-vs-product", cms_vs_product(result.series, result.events)),
            Figure.from_matplotlib("clusters", cluster_panels(result.series, labels, result.events, result.highlight)))
    summary = ("Correlation over steps of image CMS and product of cluster CMS: "
               + ", ".join(f"{r} {c:.3f}" for r, c in sorted(corr.items()))) if corr else "Image and cluster-wise CMS over steps."
    return [Section("track-regions", "Cluster-wise CMS over steps", summary, figs, data={"product_correlation": corr})]
