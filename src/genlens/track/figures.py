"""Figures of the tracking view (matplotlib, Agg): time series with a mean and band over runs.

Every figure takes the store's series format ``{run: {metric: [(step, value), ...]}}``; the band is
the min-max range over runs at each step (with 3-5 seeds a percentile band would be the same thing
with a different name), the line their mean, as in the regions paper's figure over 20 seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genlens.track.atlas import AtlasReference, CellSeries, floor_metric, js_metric
from genlens.track.events import Event
from genlens.track.measure import higher_is_better
from genlens.track.store import Series


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def aligned(series: Series, metric: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(steps, values (runs, steps), runs)`` with NaN where a run has no value at a step."""
    runs = [r for r in series if metric in series[r]]
    steps = sorted({s for r in runs for s, _ in series[r][metric]})
    index = {s: i for i, s in enumerate(steps)}
    values = np.full((len(runs), len(steps)), np.nan)
    for i, run in enumerate(runs):
        for s, v in series[run][metric]:
            values[i, index[s]] = v
    return np.asarray(steps), values, runs


def _band(ax: Any, steps: np.ndarray, values: np.ndarray, color: str) -> None:
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            mean, low, high = np.nanmean(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)
    ax.plot(steps, mean, color=color, lw=1.6)
    if values.shape[0] > 1:
        ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)


def _runs_band(ax: Any, series: Series, metric: str, color: str, highlight: Sequence[str] = ()) -> None:
    """Mean and band over the ordinary runs; each ``highlight`` run (e.g. a planted failure) as its
    own dashed line, so it neither widens the seeds' band nor hides in it."""
    ordinary = {r: per for r, per in series.items() if r not in highlight}
    steps, values, _ = aligned(ordinary, metric)
    if values.size:
        _band(ax, steps, values, color)
    for i, run in enumerate(r for r in highlight if metric in series.get(r, {})):
        points = series[run][metric]
        ax.plot([s for s, _ in points], [v for _, v in points], color=("crimson", "darkorange", "black")[i % 3],
                lw=1.2, ls="--", label=run)
        ax.legend(fontsize=6, loc="best")
    _integer_steps(ax)


def _integer_steps(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _grid(n: int, width: float = 3.2, height: float = 2.4, cols: int = 4) -> tuple[Any, np.ndarray]:
    plt = _pyplot()
    cols = max(1, min(cols, n))
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def _mark_events(ax: Any, events: Sequence[Event], metric: str, run: str | None = None) -> None:
    for e in events:
        if e.metric == metric and (run is None or e.run == run):
            ax.axvline(e.step, color="crimson", lw=1.0, ls=":", alpha=0.8)


def metric_panels(series: Series, metrics: Sequence[str], events: Sequence[Event] = (), title: str = "",
                  highlight: Sequence[str] = ()) -> Any:
    """One panel per metric: mean over runs and min-max band; flagged steps as red dotted lines."""
    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics):
        _runs_band(ax, series, metric, "tab:blue", highlight)
        _mark_events(ax, events, metric)
        direction = higher_is_better(metric)
        arrow = {True: " (higher is better)", False: " (lower is better)", None: ""}[direction]
        ax.set_title(metric + arrow, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def cms_vs_product(series: Series, events: Sequence[Event] = ()) -> Any:
    """Image CMS (solid) and product of cluster CMS (dashed) per run, and one against the other."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    _, image, runs = aligned(series, "regions/cms")
    steps, product, _ = aligned(series, "regions/cms_product")
    for i, run in enumerate(runs):
        c = colors[i % len(colors)]
        left.plot(steps, image[i], color=c, lw=1.5, label=run)
        left.plot(steps, product[i], color=c, lw=1.2, ls="--")
        right.scatter(image[i], product[i], color=c, s=14)
    _mark_events(left, events, "regions/cms")
    _integer_steps(left)
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


def cluster_panels(series: Series, labels: np.ndarray | None, events: Sequence[Event] = (),
                   highlight: Sequence[str] = ()) -> Any:
    """Each cluster's CMS over steps (mean and band over runs), with the cluster's pixels as an inset."""
    clusters = sorted(m for m in {m for r in series.values() for m in r} if m.startswith("regions/cluster_"))
    fig, axes = _grid(len(clusters))
    for ax, metric in zip(axes, clusters):
        _runs_band(ax, series, metric, "tab:green", highlight)
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


def area_panels(series: Series, real_area: dict[str, float] | None, highlight: Sequence[str] = ()) -> Any:
    """Mean generated area fraction of each class over steps; the grey line is the real fraction."""
    classes = sorted({m.split("/", 2)[2] for r in series.values() for m in r if m.startswith("semantics/area/")})
    fig, axes = _grid(len(classes))
    for ax, name in zip(axes, classes):
        _runs_band(ax, series, f"semantics/area/{name}", "tab:orange", highlight)
        if real_area and name in real_area:
            ax.axhline(real_area[name], color="grey", lw=1.0, ls="--")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("area fraction per class (generated: mean and band over runs; real: dashed)", fontsize=10)
    fig.tight_layout()
    return fig


def run_page(series: Series, run: str, metrics: Sequence[str], events: Sequence[Event]) -> Any:
    """Small multiples of one run: every headline metric, its events marked."""
    return metric_panels({run: series[run]}, [m for m in metrics if m in series[run]], [e for e in events if e.run == run],
                         title=f"run {run}")


def atlas_panels(series: Series, layers: Sequence[str], events: Sequence[Event] = (),
                 highlight: Sequence[str] = ()) -> Any:
    """Per layer: JS divergence of the atlas cells (mean and band over runs) above its noise floor."""
    fig, axes = _grid(len(layers))
    for ax, layer in zip(axes, layers):
        _runs_band(ax, series, js_metric(layer), "tab:purple", highlight)
        f_steps, floor, _ = aligned(series, floor_metric(layer))
        if floor.size:
            with np.errstate(all="ignore"):
                ax.plot(f_steps, np.nanmean(floor, 0), color="grey", lw=1.0, ls="--")
        _mark_events(ax, events, js_metric(layer))
        ax.set_title(f"{layer}: JS (nats, lower is better)", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("activation-atlas divergence (mean and min-max band over runs; dashed: noise floor)", fontsize=10)
    fig.tight_layout()
    return fig


def atlas_event(event: Event, cells: Sequence[CellSeries], atlas: AtlasReference | None) -> Any:
    """The cells an event blames: real density, generated density before and at the step, and real
    example patches of the top cells (what the generator stopped -- or started -- producing)."""
    causes = [c for c in event.causes if c["kind"] == "cell"]
    series = next((s for s in cells if causes and s.layer == causes[0]["layer"]), None)
    if series is None or series.fake_counts.get(event.step) is None:
        return None
    steps = sorted(series.fake_counts)
    prev = max((s for s in steps if s < event.step), default=None)
    plt = _pyplot()
    n_examples = min(len(causes), 3) if atlas is not None else 0
    fig, axes = plt.subplots(1, 3 + n_examples, figsize=(3.0 * (3 + n_examples), 3.2), squeeze=False)
    axes = axes[0]
    g = series.grid
    panels = [("real", series.real_counts)]
    if prev is not None:
        panels.append((f"generated, step {prev}", series.fake_counts[prev]))
    panels.append((f"generated, step {event.step}", series.fake_counts[event.step]))
    for ax, (title, counts) in zip(axes, panels):
        ax.imshow((counts / max(counts.sum(), 1)).reshape(g, g), cmap="magma", interpolation="nearest", origin="lower")
        for c in causes:
            ax.add_patch(_cell_box(c["col"], c["row"]))
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(panels) : 3]:
        ax.set_visible(False)
    for ax, cause in zip(axes[3:], causes):
        patches = atlas.examples(series.layer, cause["row"] * g + cause["col"], count=4)
        if len(patches):
            ax.imshow(np.concatenate(list(patches.transpose(0, 2, 3, 1)), axis=1), interpolation="nearest")
        ax.set_title(f"cell ({cause['row']},{cause['col']}): {100 * cause['share']:.0f}%\n{cause['fakes']} fakes; real:",
                     fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{event.run}, step {event.step}: {event.metric} {event.direction} by {abs(event.change):.3g} "
                 f"({event.score:.0f} noise units); boxed: the cells whose share of {series.layer}'s divergence grew most",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _cell_box(col: int, row: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="cyan", lw=1.5)
