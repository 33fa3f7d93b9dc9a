"""Bootstrap confidence intervals for any metric of one or two feature sets.

Each replicate resamples the rows of every set with replacement, independently, and recomputes the
metric. This measures how much the score would move with a different draw of samples of the same
size -- the error bar no peer library reports for FID.

- ``"percentile"``: the ``(1 ± level)/2`` quantiles ``[q_lo, q_hi]`` of the replicates.
- ``"basic"``: ``[2·estimate − q_hi, 2·estimate − q_lo]``, which also corrects the estimator's own
  small-sample bias to first order. FID and KID-like metrics are biased upwards and a resample
  (with about 63% distinct rows) is *more* biased, so their percentile interval sits above the
  estimate; ``bias`` in the result reports that shift. Use ``"basic"`` when the bias is not small
  compared with the interval's width.

Nearest-neighbour metrics (PRDC) see resampled duplicates as zero-distance neighbours, which
shrinks their radii; read their intervals as rough.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import torch

from genlens._progress import track
from genlens.errors import ConfigError, GenlensError
from genlens.metrics._result import MetricResult
from genlens.metrics._validate import ArrayLike, check_positive_int
from genlens.statistics import basic_interval, multiplicities, percentile_interval, resample_indices


@dataclass(frozen=True)
class BootstrapCI(MetricResult):
    headline = "estimate"

    estimate: float  # the metric on the full sets
    low: float
    high: float
    std: float  # standard deviation of the replicates (bootstrap standard error)
    bias: float  # mean of the replicates minus the estimate
    method: str
    level: float
    n_boot: int
    seed: int


def _score(metric_fn: Callable[..., Any], *sets: ArrayLike) -> float:
    out = metric_fn(*sets)
    try:
        return float(out)
    except TypeError as exc:
        raise ConfigError(
            f"bootstrap_ci: the metric returned {type(out).__name__}, which is not one number ({exc}); "
            "wrap it, e.g. `lambda a, b: prdc(a, b).coverage`."
        ) from exc


def _take(x: ArrayLike, idx: np.ndarray) -> ArrayLike:
    if isinstance(x, torch.Tensor):
        return x[torch.from_numpy(idx).to(x.device)]
    return np.asarray(x)[idx]


def resamples(sizes: Sequence[int], n_boot: int, seed: int = 0) -> Iterator[list[np.ndarray]]:
    """The row indices of each set in each of ``n_boot`` resamples, replicate by replicate.

    One resample of each set in turn, so the sets' draws interleave: :func:`bootstrap_ci` and the
    weighted sums of :func:`bootstrap_counts` see the same resamples for the same seed."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield [resample_indices(size, 1, rng)[0] for size in sizes]


def bootstrap_counts(sizes: Sequence[int], n_boot: int, seed: int = 0) -> list[np.ndarray]:
    """``(n_boot, n)`` draw counts per set: :func:`resamples` as multiplicities, for statistics that
    are weighted sums over rows (one pass for every replicate)."""
    indices = list(zip(*resamples(sizes, n_boot, seed))) if n_boot else [() for _ in sizes]
    return [multiplicities(np.stack(idx), n) if idx else np.zeros((0, n), dtype=np.int64)
            for idx, n in zip(indices, sizes)]


def bootstrap_ci(
    metric_fn: Callable[..., Any],
    a: ArrayLike,
    b: ArrayLike | None = None,
    *,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
    method: Literal["percentile", "basic"] = "percentile",
) -> BootstrapCI:
    """Bootstrap interval of ``float(metric_fn(a, b))`` (or ``metric_fn(a)`` when ``b`` is None).

    ``metric_fn`` may return a float or any genlens result with a headline number (``float(result)``:
    FID's value, KID's and IS's mean). More replicates give steadier interval ends; 200 is a
    reasonable floor for 95% intervals, 1000 for publication.
    """
    n_boot = check_positive_int(n_boot, "n_boot", minimum=2)
    if not (isinstance(level, float | int) and 0.0 < float(level) < 1.0):
        raise ConfigError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}.")
    if method not in ("percentile", "basic"):
        raise ConfigError(f"method must be 'percentile' or 'basic', got {method!r}.")
    sets = (a,) if b is None else (a, b)
    estimate = _score(metric_fn, *sets)  # also validates the inputs before any resampling
    replicates = np.empty(n_boot, dtype=np.float64)
    draws = resamples([len(s) for s in sets], n_boot, seed)
    for r in track(range(n_boot), "bootstrap", total=n_boot):
        replicates[r] = _score(metric_fn, *(_take(s, idx) for s, idx in zip(sets, next(draws))))
    if not np.isfinite(replicates).all():
        raise GenlensError(
            f"bootstrap_ci: the metric was not finite on {int((~np.isfinite(replicates)).sum())} of "
            f"{n_boot} resamples; it is unstable at this sample size."
        )
    interval = percentile_interval if method == "percentile" else partial(basic_interval, estimate)
    low, high = (float(q) for q in interval(replicates, float(level)))
    return BootstrapCI(
        estimate=estimate,
        low=low,
        high=high,
        std=float(replicates.std(ddof=1)),
        bias=float(replicates.mean()) - estimate,
        method=method,
        level=float(level),
        n_boot=n_boot,
        seed=seed,
    )
