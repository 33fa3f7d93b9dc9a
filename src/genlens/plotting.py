"""Plotting in one place: the matplotlib set-up (Agg, no display needed) and time series over runs.

:func:`pyplot` is the only way genlens modules get ``matplotlib.pyplot``: it selects the Agg backend
once (unless the user chose one), so figures render on servers and in tests alike.

The series helpers take the tracking store's format ``{run: {metric: [(step, value), ...]}}``; a band
is the min-max range over runs at each step (with 3-5 seeds a percentile band would be the same thing
with a different name), the line their mean, as in the regions paper's figure over 20 seeds. Events
are anything with ``run``, ``step`` and ``metric`` attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: ``{run: {metric: [(step, value), ...]}}``
Series = Mapping[str, Mapping[str, Sequence[tuple[int, float]]]]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (unless a backend was chosen already)."""
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


def band(ax: Any, steps: np.ndarray, values: np.ndarray, color: str) -> None:
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            mean, low, high = np.nanmean(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)
    ax.plot(steps, mean, color=color, lw=1.6)
    if values.shape[0] > 1:
        ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)


def runs_band(ax: Any, series: Series, metric: str, color: str, highlight: Sequence[str] = ()) -> None:
    """Mean and band over the ordinary runs; each ``highlight`` run (e.g. a planted failure) as its
    own dashed line, so it neither widens the seeds' band nor hides in it."""
    ordinary = {r: per for r, per in series.items() if r not in highlight}
    steps, values, _ = aligned(ordinary, metric)
    if values.size:
        band(ax, steps, values, color)
    for i, run in enumerate(r for r in highlight if metric in series.get(r, {})):
        points = series[run][metric]
        ax.plot([s for s, _ in points], [v for _, v in points], color=("crimson", "darkorange", "black")[i % 3],
                lw=1.2, ls="--", label=run)
        ax.legend(fontsize=6, loc="best")
    integer_steps(ax)


def integer_steps(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def panel_grid(n: int, width: float = 3.2, height: float = 2.4, cols: int = 4) -> tuple[Any, np.ndarray]:
    plt = pyplot()
    cols = max(1, min(cols, n))
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def mark_events(ax: Any, events: Sequence[Any], metric: str, run: str | None = None) -> None:
    for e in events:
        if e.metric == metric and (run is None or e.run == run):
            ax.axvline(e.step, color="crimson", lw=1.0, ls=":", alpha=0.8)


def metric_panels(series: Series, metrics: Sequence[str], events: Sequence[Any] = (), title: str = "",
                  highlight: Sequence[str] = (), directions: Mapping[str, bool | None] | None = None) -> Any:
    """One panel per metric: mean over runs and min-max band; flagged steps as red dotted lines."""
    fig, axes = panel_grid(len(metrics))
    for ax, metric in zip(axes, metrics):
        runs_band(ax, series, metric, "tab:blue", highlight)
        mark_events(ax, events, metric)
        direction = (directions or {}).get(metric)
        arrow = {True: " (higher is better)", False: " (lower is better)", None: ""}[direction]
        ax.set_title(metric + arrow, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def run_page(series: Series, run: str, metrics: Sequence[str], events: Sequence[Any],
             directions: Mapping[str, bool | None] | None = None) -> Any:
    """Small multiples of one run: every headline metric, its events marked."""
    return metric_panels({run: series[run]}, [m for m in metrics if m in series[run]], [e for e in events if e.run == run],
                         title=f"run {run}", directions=directions)
