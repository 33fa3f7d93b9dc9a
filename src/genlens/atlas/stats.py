"""Grids over the layout, per-cell counts and tests, divergences and their noise floor.

All divergences are in nats. KL uses pseudo-count smoothing over *all* G^2 cells,
``P_i = (r_i + alpha) / (N_r + alpha G^2)`` (empty cells included, ``alpha`` recorded), so it is
finite; Jensen-Shannon needs no smoothing (it is bounded by ln 2) and uses the raw frequencies.
Plug-in divergences grow with G^2 / N even between two samples of one distribution, so every number
comes with a noise floor: the same statistic between two disjoint halves of the real images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

from genlens.statistics import half_split, random_subset

DIVERGENCES = ("kl_real_fake", "kl_fake_real", "js")


def cell_index(coords: np.ndarray, grid: int) -> np.ndarray:
    """Flat cell id ``row * grid + col`` of unit-square coordinates ``(n, 2)`` = (x, y).

    Half-open bins with the last edge closed, so every point lands in exactly one cell (the lucid
    notebooks' inclusive bounds count border points twice)."""
    cols = np.minimum((coords[:, 0] * grid).astype(np.int64), grid - 1)
    rows = np.minimum((coords[:, 1] * grid).astype(np.int64), grid - 1)
    return rows * grid + cols


def histogram(cells: np.ndarray, grid: int) -> np.ndarray:
    """Counts per cell, length ``grid**2``."""
    return np.bincount(cells, minlength=grid * grid).astype(np.float64)


def smoothed(counts: np.ndarray, alpha: float) -> np.ndarray:
    """``(c_i + alpha) / (N + alpha K)``."""
    return (counts + alpha) / (counts.sum() + alpha * counts.size)


def kl(real_counts: np.ndarray, fake_counts: np.ndarray, alpha: float) -> float:
    """KL(P_real || Q_fake) of the smoothed histograms: high when real mass sits where fakes are rare."""
    p, q = smoothed(real_counts, alpha), smoothed(fake_counts, alpha)
    return float(np.sum(p * (np.log(p) - np.log(q))))


def js(real_counts: np.ndarray, fake_counts: np.ndarray) -> float:
    """Jensen-Shannon divergence of the raw frequencies (0 log 0 = 0)."""
    p = real_counts / real_counts.sum()
    q = fake_counts / fake_counts.sum()
    m = 0.5 * (p + q)
    return float(0.5 * _kl_terms(p, m).sum() + 0.5 * _kl_terms(q, m).sum())


def _kl_terms(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    out = np.zeros_like(p)
    nz = p > 0
    out[nz] = p[nz] * (np.log(p[nz]) - np.log(m[nz]))
    return out


def divergences(real_counts: np.ndarray, fake_counts: np.ndarray, alpha: float) -> dict[str, float]:
    return {
        "kl_real_fake": kl(real_counts, fake_counts, alpha),
        "kl_fake_real": kl(fake_counts, real_counts, alpha),
        "js": js(real_counts, fake_counts),
    }


@dataclass(frozen=True)
class NoiseFloor:
    """Divergences between disjoint real halves (``floor``), and between one real half and an
    equally sized random half of the fakes (``matched``), averaged over ``splits``; ``excess`` is
    matched - floor per split, averaged, with its standard error over splits. Comparing equal sample
    sizes is what makes the difference meaningful: the plug-in bias depends on N."""

    floor: dict[str, float]
    matched: dict[str, float]
    excess: dict[str, float]
    excess_se: dict[str, float]
    splits: int


def noise_floor(
    real_cells: np.ndarray, real_images: np.ndarray, fake_cells: np.ndarray, fake_images: np.ndarray,
    grid: int, alpha: float, splits: int = 8, seed: int = 0,
) -> NoiseFloor:
    """Split by *image* (positions of one image are correlated), never by activation row."""
    rng = np.random.default_rng(seed)
    real_ids, fake_ids = np.unique(real_images), np.unique(fake_images)
    half = min(len(real_ids) // 2, len(fake_ids))
    floors, matched = [], []
    for _ in range(splits):  # per split: the real halves, then the fake subset, from one stream
        a, b = (real_ids[i] for i in half_split(len(real_ids), rng, size=half))
        f = fake_ids[random_subset(len(fake_ids), half, rng)]
        ha = histogram(real_cells[np.isin(real_images, a)], grid)
        hb = histogram(real_cells[np.isin(real_images, b)], grid)
        hf = histogram(fake_cells[np.isin(fake_images, f)], grid)
        floors.append(divergences(ha, hb, alpha))
        matched.append(divergences(ha, hf, alpha))
    def mean(rows: list[dict[str, float]], key: str) -> float:
        return float(np.mean([r[key] for r in rows]))
    diffs = {k: np.array([m[k] - f[k] for m, f in zip(matched, floors)]) for k in DIVERGENCES}
    return NoiseFloor(
        floor={k: mean(floors, k) for k in DIVERGENCES},
        matched={k: mean(matched, k) for k in DIVERGENCES},
        excess={k: float(d.mean()) for k, d in diffs.items()},
        excess_se={k: float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0 for k, d in diffs.items()},
        splits=splits,
    )


def binomial_test(real_counts: np.ndarray, fake_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values that a cell's fake share equals the overall fake share
    (``g_i ~ Binomial(r_i + g_i, N_g / (N_r + N_g))``, doubled smaller tail), and Benjamini-Hochberg
    q-values over the non-empty cells (empty cells: p = q = 1)."""
    n = real_counts + fake_counts
    share = fake_counts.sum() / (real_counts.sum() + fake_counts.sum())
    p = np.ones_like(n)
    occupied = n > 0
    lower = stats.binom.cdf(fake_counts[occupied], n[occupied], share)
    upper = stats.binom.sf(fake_counts[occupied] - 1, n[occupied], share)
    p[occupied] = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    q = np.ones_like(p)
    if occupied.any():
        q[occupied] = stats.false_discovery_control(p[occupied], method="bh")
    return p, q


def log_ratio(real_counts: np.ndarray, fake_counts: np.ndarray, alpha: float) -> np.ndarray:
    """Smoothed ``log(q_i / p_i)``: > 0 where fakes are denser than real data, < 0 where they are rarer."""
    return np.log(smoothed(fake_counts, alpha)) - np.log(smoothed(real_counts, alpha))


def js_contributions(real_counts: np.ndarray, fake_counts: np.ndarray) -> np.ndarray:
    """Each cell's share of the Jensen-Shannon divergence (non-negative, sums to JS): the ranking
    of where the two sets part ways, weighing both mass and imbalance."""
    p = real_counts / real_counts.sum()
    q = fake_counts / fake_counts.sum()
    m = 0.5 * (p + q)
    return 0.5 * _kl_terms(p, m) + 0.5 * _kl_terms(q, m)


def cell_means(values: np.ndarray, cells: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean activation per cell ``(n_cells, d)`` (zeros where empty) and counts, by one sparse product."""
    onehot = sparse.csr_matrix((np.ones(len(cells)), (cells, np.arange(len(cells)))), shape=(n_cells, len(cells)))
    counts = np.asarray(onehot.sum(axis=1)).ravel()
    sums = onehot @ values.astype(np.float64)
    return sums / np.maximum(counts, 1)[:, None], counts


def nearest_to_mean(values: np.ndarray, cells: np.ndarray, means: np.ndarray, rows: np.ndarray,
                    cell: int, k: int) -> np.ndarray:
    """Indices (into ``values``) of the ``k`` rows among ``rows`` in ``cell`` closest to its mean."""
    members = rows[cells[rows] == cell]
    if len(members) == 0:
        return members
    dist = np.linalg.norm(values[members] - means[cell], axis=1)
    return members[np.argsort(dist, kind="stable")[:k]]
