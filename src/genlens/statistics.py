"""The statistics every view shares: bootstrap resamples and their standard errors.

One vocabulary across genlens: a *value* is measured on the full sets; its *standard error* is the
spread of the value over bootstrap resamples; a *floor* is the value between two samples of the real
distribution itself; the *excess* is value minus floor; a difference is *significant* when it stands
beyond its noise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def resample_indices(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """``(n_boot, n)`` row indices drawn with replacement: one bootstrap resample per row."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def resample_counts(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """``(n_boot, n)`` how often each of ``n`` items is drawn in each bootstrap resample (rows sum to ``n``).

    The same resamples as :func:`resample_indices` with the same seed, as multiplicities: a statistic
    that is a weighted sum over items takes a whole bootstrap as one matrix product.
    """
    idx = resample_indices(n, n_boot, seed)
    counts = np.zeros((n_boot, n), dtype=np.int64)
    np.add.at(counts, (np.arange(n_boot)[:, None], idx), 1)
    return counts


def standard_error(replicates: np.ndarray, axis: int = 0) -> np.ndarray | float:
    """Bootstrap standard error: the sample standard deviation of finite replicates along ``axis``."""
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.shape[axis] < 2:
        return np.full(np.delete(reps.shape, axis), np.nan) if reps.ndim > 1 else float("nan")
    out = np.nanstd(reps, axis=axis, ddof=1)
    return float(out) if np.ndim(out) == 0 else out


def bootstrap_se(statistic: Callable[[np.ndarray], float], n: int, n_boot: int, seed: int = 0) -> float:
    """Standard error of ``statistic(rows)`` over ``n_boot`` resamples of ``n`` rows (``rows``: indices)."""
    if n_boot < 2:
        return float("nan")
    reps = np.array([statistic(rows) for rows in resample_indices(n, n_boot, seed)], dtype=np.float64)
    return float(standard_error(reps))
