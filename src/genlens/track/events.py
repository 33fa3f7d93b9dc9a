"""Events: steps at which a metric worsens beyond its noise, with what accounts for it.

For every headline metric of a run, the step-to-step change ``w_t`` is signed so that positive means
worse. Its noise has two parts:

* **measurement** -- the bootstrap standard error of the metric (``se/<metric>``, logged at every
  step) at the step before: ``m_t^2 = 2 se_{t-1}^2`` is how much the change would move with another
  draw of generated images if the generator had not changed. The step's own error is not used: a
  broken generator's metric is often far noisier (KID's error grows with KID), and its own noise
  must not hide its break;
* **run** -- the run's own spread of earlier changes, ``r_t = 1.4826 * MAD`` (a standard deviation
  under Gaussian noise that a few large jumps cannot inflate). It holds the measurement noise and,
  beyond it, the generator's own step-to-step drift, which a resample of one step's images cannot see.

``noise_t = max(m_t, r_t)``: the run's spread, but never less than the measured noise that it
contains. The measured part is a floor that a lucky history cannot lower: four nearly equal changes
give a MAD near zero, and without it an ordinary fifth change scored hundreds of noise units. The
spread part keeps a GAN's ordinary epoch-to-epoch swings from being read as breaks. A step is an event when it
is a worsening (``w_t > 0``) and ``(w_t - d_t) / noise_t`` exceeds ``threshold``, where ``d_t`` is the
run's usual change (the median of earlier changes). A step is judged once ``min_history`` earlier
changes exist. After an event the metric's history starts again from the step after it, as a
change detector resets after an alarm: the run has entered a new regime, and its later steps are
judged against that regime once it has ``min_history`` changes of its own, not against the healthy
past (which would flag every step of a diverging run, each further from the old baseline). No future
values are used, so the same rule can run live during training.

The defaults (10 noise units, 4 earlier changes) are set by ``benchmarks/bench_track_false_alarms.py``:
on 20 healthy zoo-DCGAN seeds (10 epochs) they flag 0.86% of the judged (step, metric) pairs (GANs
do get worse for an epoch now and then), and none of 1680 in 20 runs of pure resampling; the planted
collapse, dropped class and learning-rate blow-up are each flagged at their step, as the strongest
event of their run.

Causes split the worsening into parts that add up:

* clusters -- ``log(product of cluster CMS) = sum_j log CMS_j``, so the fall of ``log CMS_j`` is each
  cluster's exact share of the fall of the product (and, as the product tracks the image CMS, of it);
* classes -- the growth of ``|generated area - real area|`` of each class between the two steps;
* cells -- the growth of each activation-atlas cell's term of the Jensen-Shannon divergence (the
  terms sum to the divergence), in the layer the event is about, else the layer whose divergence rose
  most.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genlens.track.measure import se_metric
from genlens.views.base import StepEvidence

#: Normal-consistency constant of the median absolute deviation.
MAD_SCALE = 1.4826


@dataclass(frozen=True)
class EventRule:
    """``threshold`` noise units; ``min_history`` earlier changes before a step can be judged."""

    threshold: float = 10.0
    min_history: int = 4
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
    higher_is_better: bool = False
    noise: float = float("nan")

    @property
    def direction(self) -> str:
        """``"fell"`` or ``"rose"``: what the metric did (a worsening either way)."""
        return "rose" if self.change > 0 else "fell"

    def describe(self) -> str:
        """One line: ``metrics/fid rose by 14.7 (9.1 noise units) at step 5 of seed-0``."""
        return (f"{self.metric} {self.direction} by {abs(self.change):.4g} ({self.score:.1f} noise units) "
                f"at step {self.step} of {self.run}")

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "step": self.step, "metric": self.metric, "change": self.change,
                "direction": self.direction, "score": self.score, "noise": self.noise,
                "higher_is_better": self.higher_is_better, "causes": [dict(c) for c in self.causes]}


def worsening_scores(values: Sequence[float], higher_is_better: bool, se: Sequence[float] | None = None,
                     rule: EventRule | None = None, rel_floor: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Score and noise of each step's change (NaN where not judged or not a worsening).

    ``score[t] = (w_t - d_t) / noise_t`` for a worsening ``w_t > 0`` (see the module docstring);
    ``se`` are the values' standard errors (missing or NaN: no measurement part). The noise has a floor
    of ``rel_floor`` times the largest magnitude so far, so a perfectly flat history without standard
    errors does not give infinite scores.
    """
    rule = rule or EventRule()
    v = np.asarray(values, dtype=np.float64)
    scores, noises = np.full(v.shape, np.nan), np.full(v.shape, np.nan)
    if v.size < 2:
        return scores, noises
    errors = np.full(v.shape, np.nan) if se is None else np.asarray(se, dtype=np.float64)
    # under "nothing changed at this step" both values share the earlier step's noise (a broken generator's
    # own bootstrap error can be far larger: it must not hide its break)
    before = np.where(np.isfinite(errors[:-1]), errors[:-1], errors[1:])
    measured = np.nan_to_num(2.0 * before**2, nan=0.0)  # variance of each change
    has_se = np.isfinite(before)
    worse = np.diff(v) * (-1.0 if higher_is_better else 1.0)
    magnitude = np.fmax.accumulate(np.nan_to_num(np.abs(v), nan=0.0))  # largest |value| so far
    start = 0  # the run's current regime begins with this change
    for t in range(worse.size):
        history = worse[start:t][np.isfinite(worse[start:t])]
        k = history.size
        if k < rule.min_history or not np.isfinite(worse[t]):
            continue
        center = float(np.median(history))
        spread = MAD_SCALE * float(np.median(np.abs(history - center)))
        variance = max(measured[t], spread**2)
        floor = max(rel_floor * float(magnitude[t + 1]), 1e-12)
        noise = max(float(np.sqrt(variance)), floor if not has_se[t] else 1e-12)
        noises[t + 1] = noise
        if worse[t] > 0:
            scores[t + 1] = (worse[t] - center) / noise
            if scores[t + 1] > rule.threshold:
                start = t + 1  # a break: what came before no longer describes the run
    return scores, noises


def detect_events(
    series: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]],
    rule: EventRule | None = None,
    directions: Mapping[str, bool | None] | None = None,
    metrics: Sequence[str] | None = None,
    reference: Any = None,
    arrays: Callable[[str, str], Mapping[int, Any]] | None = None,
) -> list[Event]:
    """Events of every run in ``{run: {metric: [(step, value), ...]}}`` (the store's series format).

    ``directions`` says which way each metric is better (``None`` or missing: not judged); ``metrics``
    restricts the judged names. With the tracking ``reference`` (and the store's ``arrays`` reader),
    each event gets the causes every view names: clusters, classes, atlas cells.
    """
    rule = rule or EventRule()
    directions = {m: direction_of(m) for per in series.values() for m in per} | dict(directions or {})
    events: list[Event] = []
    for run, per_metric in series.items():
        names = metrics if metrics is not None else [m for m in per_metric if directions.get(m) is not None]
        for metric in names:
            points = per_metric.get(metric, [])
            if not points:
                continue
            steps = [s for s, _ in points]
            values = [v for _, v in points]
            errors = dict(per_metric.get(se_metric(metric), []))
            higher = directions.get(metric)
            higher = True if higher is None else bool(higher)
            scores, noises = worsening_scores(values, higher, [errors.get(s, np.nan) for s in steps], rule)
            for i in np.flatnonzero(np.nan_to_num(scores, nan=-np.inf) > rule.threshold):
                evidence = StepEvidence(run, steps[i - 1], steps[i], per_metric, arrays, rule)
                causes = explain_change(evidence, metric, reference)
                events.append(Event(run, steps[i], metric, float(values[i] - values[i - 1]), float(scores[i]), causes,
                                    higher_is_better=higher, noise=float(noises[i])))
    events.sort(key=lambda e: (e.run, e.step, -e.score))
    return events


def direction_of(metric: str) -> bool | None:
    """Which way ``metric`` is better, by the view its name starts with (``None``: not judged)."""
    from genlens.views import views

    owner = {v.key: v for v in views()}.get(metric.split("/")[0])
    return owner.direction(metric) if owner is not None else None


def explain_change(evidence: StepEvidence, metric: str, reference: Any = None) -> tuple[dict[str, Any], ...]:
    """The parts of every tracked view that account for most of a worsening, the event's own view first.

    Each view names its own parts (:meth:`genlens.views.View.causes`): clusters by their share of the
    fall of the product of cluster CMS, classes by the growth of their area gap, atlas cells by the
    growth of their term of the divergence.
    """
    from genlens.views import get_view

    if reference is None:
        return ()
    causes: list[dict[str, Any]] = []
    own = metric.split("/")[0]
    for key, fitted in reference.fitted.items():
        found = get_view(key).causes(fitted, evidence, metric)
        causes = found + causes if key == own else causes + found
    return tuple(causes)
