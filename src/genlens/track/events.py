"""Events: steps at which a metric worsens beyond the run's own noise, with what accounts for it.

For every headline metric of a run, the step-to-step change is signed so that positive means worse.
The run's own noise is estimated robustly from its *previous* changes: their median (the run's usual
drift, e.g. steady improvement) and ``1.4826 * MAD`` (their spread, a standard deviation under
Gaussian noise that a few large jumps cannot inflate). Step ``t`` is an event when its change is a
worsening and lies more than ``threshold`` noise units above the usual drift. No future values are
used, so the same rule can run live during training.

Causes split the worsening into parts that add up:

* clusters -- ``log(product of cluster CMS) = sum_j log CMS_j``, so the fall of ``log CMS_j`` is each
  cluster's exact share of the fall of the product (and, as the product tracks the image CMS, of it);
* classes -- the growth of ``|generated area - real area|`` of each class between the two steps;
* cells -- the growth of each activation-atlas cell's term of the Jensen-Shannon divergence (the
  terms sum to the divergence), in the layer the event is about, else the layer whose divergence rose
  most.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genlens.track.atlas import CellSeries, layer_of
from genlens.track.measure import higher_is_better

#: Normal-consistency constant of the median absolute deviation.
MAD_SCALE = 1.4826


@dataclass(frozen=True)
class EventRule:
    """``threshold`` noise units; ``min_history`` previous changes before a step can be judged."""

    threshold: float = 6.0
    min_history: int = 3
    max_causes: int = 3
    min_share: float = 0.1


@dataclass(frozen=True)
class Event:
    """One flagged step: ``change`` is signed (new - old), ``score`` is in noise units."""

    run: str
    step: int
    metric: str
    change: float
    score: float
    causes: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "step": self.step, "metric": self.metric, "change": self.change,
                "score": self.score, "causes": [dict(c) for c in self.causes]}


def worsening_scores(values: Sequence[float], higher_is_better: bool, min_history: int = 3,
                     rel_floor: float = 1e-4) -> np.ndarray:
    """Robust score of each step's worsening against the run's previous changes (NaN where not judged).

    ``score[t] = (w_t - median(w_<t)) / (1.4826 * MAD(w_<t))`` with ``w_t`` the change from step
    ``t-1`` to ``t`` signed so that positive is worse. The noise has a floor of ``rel_floor`` times the
    largest magnitude of the values so far, so a perfectly flat history does not give infinite scores.
    """
    v = np.asarray(values, dtype=np.float64)
    scores = np.full(v.shape, np.nan)
    if v.size < 2:
        return scores
    worse = np.diff(v) * (-1.0 if higher_is_better else 1.0)
    magnitude = np.fmax.accumulate(np.nan_to_num(np.abs(v), nan=0.0))  # largest |value| so far
    for t in range(min_history, worse.size):
        history = worse[:t][np.isfinite(worse[:t])]
        if history.size < min_history or not np.isfinite(worse[t]):
            continue
        center = float(np.median(history))
        floor = max(rel_floor * float(magnitude[t + 1]), 1e-12)
        noise = max(MAD_SCALE * float(np.median(np.abs(history - center))), floor)
        scores[t + 1] = (worse[t] - center) / noise
    return scores


def detect_events(
    series: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]],
    rule: EventRule | None = None,
    metrics: Sequence[str] | None = None,
    real_areas: Mapping[str, float] | None = None,
    cells: Mapping[str, Sequence[CellSeries]] | None = None,
) -> list[Event]:
    """Events of every run in ``{run: {metric: [(step, value), ...]}}`` (the store's series format).

    ``metrics`` defaults to every metric with a direction (:func:`~genlens.track.measure.higher_is_better`);
    ``real_areas`` (class -> mean real area) enables class causes, ``cells`` (run -> atlas evidence)
    cell causes.
    """
    rule = rule or EventRule()
    events: list[Event] = []
    for run, per_metric in series.items():
        names = metrics if metrics is not None else [m for m in per_metric if higher_is_better(m) is not None]
        for metric in names:
            points = per_metric.get(metric, [])
            if not points:
                continue
            steps = [s for s, _ in points]
            values = [v for _, v in points]
            higher = higher_is_better(metric)
            higher = True if higher is None else higher
            scores = worsening_scores(values, higher, rule.min_history)
            for i in np.flatnonzero(np.nan_to_num(scores, nan=-np.inf) > rule.threshold):
                prev, step = steps[i - 1], steps[i]
                causes = explain_change(per_metric, prev, step, real_areas, rule,
                                        cells=(cells or {}).get(run, ()), metric=metric)
                events.append(Event(run, step, metric, float(values[i] - values[i - 1]), float(scores[i]), causes))
    events.sort(key=lambda e: (e.run, e.step, -e.score))
    return events


def explain_change(
    per_metric: Mapping[str, Sequence[tuple[int, float]]],
    prev: int,
    step: int,
    real_areas: Mapping[str, float] | None = None,
    rule: EventRule | None = None,
    cells: Sequence[CellSeries] = (),
    metric: str | None = None,
) -> tuple[dict[str, Any], ...]:
    """The clusters, classes and atlas cells accounting for most of the worsening from ``prev`` to ``step``."""
    rule = rule or EventRule()
    at = {m: dict(points) for m, points in per_metric.items()}
    causes: list[dict[str, Any]] = []
    cluster_drop = {}
    for name, values in at.items():
        if name.startswith("regions/cluster_") and prev in values and step in values:
            old, new = values[prev], values[step]
            if old > 0 and new > 0:
                cluster_drop[name] = float(np.log(old) - np.log(new))  # > 0: the cluster got worse
    causes += _shares(cluster_drop, "cluster", lambda m: int(m.rsplit("_", 1)[1]), rule)
    if real_areas:
        gap_growth = {}
        for name, real in real_areas.items():
            values = at.get(f"semantics/area/{name}", {})
            if prev in values and step in values:
                gap_growth[name] = abs(values[step] - real) - abs(values[prev] - real)
        causes += _shares(gap_growth, "class", lambda n: n, rule)
    causes += _cell_causes(cells, prev, step, rule, layer_of(metric or ""))
    # the event's own view first: cells for an atlas metric, classes for a semantics metric
    first = {"atlas": "cell", "semantics": "class", "regions": "cluster"}.get((metric or "").split("/")[0])
    return tuple(sorted(causes, key=lambda c: c["kind"] != first))


def _cell_causes(cells: Sequence[CellSeries], prev: int, step: int, rule: EventRule,
                 layer: str | None) -> list[dict[str, Any]]:
    """Cells of one layer whose JS term grew most: the event's own layer, else the one whose JS rose most."""
    growth = {}
    for series in cells:
        old, new = series.contributions(prev), series.contributions(step)
        if old is not None and new is not None:
            growth[series.layer] = (series, new - old)
    if layer not in growth:
        rising = {name: float(g.sum()) for name, (_, g) in growth.items() if g.sum() > 0}
        if not rising:
            return []
        layer = max(rising, key=rising.get)
    series, change = growth[layer]
    shares = _shares({str(c): float(change[c]) for c in np.flatnonzero(change > 0)}, "cell", int, rule)
    out = []
    for cause in shares:
        where = series.describe(cause["id"], step)
        label = f" ({where['real_class']})" if where["real_class"] else ""
        name = f"{layer} cell ({where['row']},{where['col']}){label}, {where['fakes']} fakes"
        out.append({**cause, **where, "id": f"{layer}:{where['row']},{where['col']}", "name": name})
    return out


def _shares(worsening: Mapping[str, float], kind: str, ident: Any, rule: EventRule) -> list[dict[str, Any]]:
    """Positive parts as shares of their sum, largest first, keeping those above ``min_share``."""
    positive = {k: v for k, v in worsening.items() if np.isfinite(v) and v > 0}
    total = sum(positive.values())
    if total <= 0:
        return []
    ranked = sorted(positive.items(), key=lambda kv: -kv[1])
    out = []
    for key, value in ranked[: rule.max_causes]:
        share = value / total
        if share < rule.min_share and out:
            break
        out.append({"kind": kind, "id": ident(key), "name": f"{kind} {ident(key)}", "change": float(value), "share": float(share)})
    return out
