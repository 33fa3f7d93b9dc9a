"""The statistics every view shares: bootstrap resamples, intervals, standard errors and split-half floors.

One vocabulary across genlens: a *value* is measured on the full sets; its *ci* is a bootstrap
interval and its *standard error* the spread of the value over bootstrap resamples; a *floor* is the
value between two samples of the real distribution itself; the *excess* is value minus floor; a
difference is *significant* when it stands beyond its noise.

Every random draw takes the generator it comes from (``rng``/``seed``): an ``int`` seeds numpy's
``default_rng``, a ``numpy.random.Generator`` or ``torch.Generator`` continues its own stream. Each
view keeps the generator and the order of draws it has always used, so its numbers stay reproducible
across versions; the functions here only make the draws and the formulas one implementation.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import torch

#: Where random draws come from: a seed for numpy's ``default_rng``, or a generator to continue.
Seed: TypeAlias = "int | np.random.Generator | torch.Generator"


def generator(rng: Seed) -> np.random.Generator | torch.Generator:
    """A generator to draw from: a generator is used as is, anything else seeds a fresh ``default_rng``."""
    if _is_numpy(rng) or _is_torch(rng):
        return rng
    return np.random.default_rng(rng)


def _is_numpy(rng: Any) -> bool:
    return isinstance(rng, np.random.Generator)


def _is_torch(rng: Any) -> bool:
    torch = sys.modules.get("torch")  # an object cannot be a torch.Generator unless torch is loaded
    return torch is not None and isinstance(rng, torch.Generator)


# -- bootstrap draws ------------------------------------------------------------------------------
def resample_indices(n: int, n_boot: int, seed: Seed = 0) -> Any:
    """``(n_boot, n)`` row indices drawn with replacement: one bootstrap resample per row.

    All rows come from one call, so the stream differs from ``n_boot`` calls of ``n`` (numpy buffers
    32-bit draws within a call): a view that interleaves several sets draws one row at a time
    (``resample_indices(n, 1, rng)[0]``). A ``torch.Generator`` gives a ``torch`` tensor.
    """
    rng = generator(seed)
    if _is_numpy(rng):
        return rng.integers(0, n, size=(n_boot, n))
    import torch

    return torch.randint(n, (n_boot, n), generator=rng)


def multiplicities(indices: Any, n: int, groups: np.ndarray | None = None, n_groups: int = 1) -> np.ndarray:
    """How often each of ``n`` items occurs in each row of ``indices`` ``(R, L)``: int64 ``(R, n)``.

    With ``groups`` (the group of each of the ``L`` columns, ``0..n_groups-1``) the counts are per
    group, ``(R, n_groups, n)``: a minibatch estimate splits each resample into consecutive batches.
    A statistic that is a weighted sum over items then takes a whole bootstrap as one matrix product.
    """
    idx = np.asarray(indices.cpu() if hasattr(indices, "cpu") else indices, dtype=np.int64)
    rows, length = idx.shape
    cell = np.zeros(length, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    flat = (np.arange(rows, dtype=np.int64)[:, None] * n_groups + cell[None, :]) * n + idx
    counts = np.bincount(flat.ravel(), minlength=rows * n_groups * n).astype(np.int64)
    return counts.reshape(rows, n) if groups is None else counts.reshape(rows, n_groups, n)


def resample_counts(n: int, n_boot: int, seed: Seed = 0) -> np.ndarray:
    """``(n_boot, n)`` how often each of ``n`` items is drawn in each bootstrap resample (rows sum to ``n``).

    The same resamples as :func:`resample_indices` with the same seed, as multiplicities.
    """
    return multiplicities(resample_indices(n, n_boot, seed), n)


def multinomial_counts(n: int, n_boot: int, rng: Seed = 0) -> np.ndarray:
    """``(n_boot, n)`` resample multiplicities drawn directly as multinomial counts (numpy only).

    The same distribution as :func:`resample_counts` but another stream: the views that have always
    drawn counts this way (semantic areas, manifold metrics) keep their numbers.
    """
    return generator(rng).multinomial(n, np.full(n, 1.0 / n), size=n_boot)


def stratified_counts(labels: np.ndarray, n_boot: int, rng: Seed = 0) -> np.ndarray:
    """Like :func:`multinomial_counts`, resampling within each class (in sorted label order) so the
    class shares of every resample equal those of the data."""
    rng = generator(rng)
    labels = np.asarray(labels)
    counts = np.zeros((n_boot, labels.size), dtype=np.int64)
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        counts[:, idx] = multinomial_counts(idx.size, n_boot, rng)
    return counts


def bootstrap_weights(n: int, n_boot: int, seed: Seed = 0, labels: np.ndarray | None = None) -> np.ndarray:
    """``(n_boot, n)`` resampling weights (multinomial counts / n): a mean is one matmul away.

    With ``labels``, resamples within each class (:func:`stratified_counts`).
    """
    if labels is None:
        return multinomial_counts(n, n_boot, seed).astype(np.float64) / n
    return stratified_counts(labels, n_boot, seed).astype(np.float64) / n


# -- standard errors ------------------------------------------------------------------------------
def standard_error(replicates: np.ndarray, axis: int = 0) -> np.ndarray | float:
    """Bootstrap standard error: the sample standard deviation of finite replicates along ``axis``."""
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.shape[axis] < 2:
        return np.full(np.delete(reps.shape, axis), np.nan) if reps.ndim > 1 else float("nan")
    out = np.nanstd(reps, axis=axis, ddof=1)
    return float(out) if np.ndim(out) == 0 else out


def bootstrap_se(statistic: Callable[[np.ndarray], float], n: int, n_boot: int, seed: Seed = 0) -> float:
    """Standard error of ``statistic(rows)`` over ``n_boot`` resamples of ``n`` rows (``rows``: indices)."""
    if n_boot < 2:
        return float("nan")
    reps = np.array([statistic(rows) for rows in resample_indices(n, n_boot, seed)], dtype=np.float64)
    return float(standard_error(reps))


# -- intervals ------------------------------------------------------------------------------------
def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Percentile bootstrap interval ``(..., 2)``: the ``(1 ± level)/2`` quantiles over the first axis."""
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha], axis=0)
    return np.stack([lo, hi], axis=-1)


def basic_interval(estimate: float | np.ndarray, replicates: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Basic bootstrap interval ``[2·estimate − q_hi, 2·estimate − q_lo]``, ``(..., 2)``.

    Reflecting the percentile ends about the estimate corrects the estimator's own small-sample bias
    to first order, which resampling (with its duplicated rows) otherwise doubles.
    """
    q = percentile_interval(replicates, level)
    return np.stack([2 * estimate - q[..., 1], 2 * estimate - q[..., 0]], axis=-1)


def normal_interval(
    estimate: float, se: float, level: float = 0.95, bounds: tuple[float, float] = (-math.inf, math.inf)
) -> tuple[float, float]:
    """``estimate ± z·se`` clipped to the statistic's ``bounds``.

    For biased statistics whose resamples shift (duplicated rows grow FD, shrink PRDC radii), the
    replicates' spread is still a sound noise measure while their quantiles may miss the estimate.
    """
    z = NormalDist().inv_cdf(0.5 + level / 2)
    low, high = estimate - z * se, estimate + z * se
    return (max(low, bounds[0]), min(high, bounds[1]))


def recentred_interval(point: float, replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile spread of the replicates around their median, placed at the point estimate.

    For kernel statistics a resample's duplicate pairs (kernel value 1) shift every replicate; the
    shift is dropped and the spread kept. No replicates give ``(nan, nan)``.
    """
    if replicates.size == 0:
        return (float("nan"), float("nan"))
    lo, mid, hi = np.quantile(replicates, [(1 - level) / 2, 0.5, (1 + level) / 2])
    return (float(point + lo - mid), float(point + hi - mid))


# -- split-half floors ----------------------------------------------------------------------------
def permutation(n: int, rng: Seed) -> Any:
    """A random order of ``range(n)``: numpy array, or a torch tensor for a ``torch.Generator``."""
    rng = generator(rng)
    if _is_numpy(rng):
        return rng.permutation(n)
    import torch

    return torch.randperm(n, generator=rng)


def half_split(n: int, rng: Seed, size: int | None = None) -> tuple[Any, Any]:
    """Two disjoint random index sets of ``size`` (default ``n // 2``), from one permutation."""
    perm = permutation(n, rng)
    size = n // 2 if size is None else size
    return perm[:size], perm[size : 2 * size]


def half_splits(n: int, splits: int, rng: Seed, size: int | None = None) -> tuple[Any, Any]:
    """``splits`` draws of :func:`half_split` as two ``(splits, size)`` index arrays (first, second half)."""
    rng = generator(rng)
    size = n // 2 if size is None else size
    if splits == 0:
        if _is_numpy(rng):
            return np.empty((0, size), dtype=np.int64), np.empty((0, size), dtype=np.int64)
        import torch

        return torch.empty((0, size), dtype=torch.long), torch.empty((0, size), dtype=torch.long)
    perms = [permutation(n, rng) for _ in range(splits)]
    if _is_numpy(rng):
        stacked = np.stack(perms)
    else:
        import torch

        stacked = torch.stack(perms)
    return stacked[:, :size], stacked[:, size : 2 * size]


def random_subset(n: int, m: int, rng: Seed) -> np.ndarray:
    """``m`` distinct indices of ``range(n)``, drawn by ``Generator.choice`` (the atlas views' draw)."""
    return generator(rng).choice(n, m, replace=False)


def floor_over_splits(statistic: Callable[..., float], splits: Iterable[tuple[Any, ...]]) -> float:
    """Mean of ``statistic(*split)`` over the splits: a real-vs-real floor averaged over random splits."""
    return float(np.mean([statistic(*split) for split in splits]))


def familywise_z(n_tests: int, alpha: float = 0.05) -> float:
    """The two-sided normal threshold that keeps the chance of any false alarm among ``n_tests`` at
    ``alpha`` (Bonferroni): a view that tests 12 clusters must not call one of them broken 1 time in 2."""
    from statistics import NormalDist

    return float(NormalDist().inv_cdf(1.0 - alpha / (2.0 * max(int(n_tests), 1))))


def z_of_level(level: float) -> float:
    """``z`` such that ``estimate ± z·SE`` is a two-sided ``level`` normal interval."""
    from statistics import NormalDist

    return float(NormalDist().inv_cdf(0.5 + level / 2.0))


def z_of_p(p: float) -> float:
    """A two-sided p-value (or q-value) as the normal score with that tail probability: noise units."""
    from scipy.stats import norm

    p = min(max(float(p), 1e-300), 1.0)
    return float(norm.isf(p / 2.0))  # the upper tail directly: exact for p far below float precision


def one_sided_p(z: float) -> float:
    """The upper-tail normal p-value of a score in noise units."""
    from scipy.stats import norm

    return float(norm.sf(z)) if np.isfinite(z) else float("nan")


def two_sided_p(z: float) -> float:
    """The two-sided normal p-value of a score in noise units."""
    from scipy.stats import norm

    return float(2.0 * norm.sf(abs(z))) if np.isfinite(z) else float("nan")
