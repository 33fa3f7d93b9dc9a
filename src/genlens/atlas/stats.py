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


def image_counts(cells: np.ndarray, image_key: np.ndarray, n_images: int, n_cells: int) -> sparse.csr_matrix:
    """``(n_images, n_cells)`` how many of each image's sampled activations fall in each cell.

    The image is the unit of independence: the positions sampled from one image (and so the
    activations they give) are correlated, so a cell's evidence is counted per image, never per
    activation."""
    ones = np.ones(len(cells), dtype=np.float64)
    return sparse.csr_matrix((ones, (image_key, cells)), shape=(n_images, n_cells))


@dataclass(frozen=True)
class CellTest:
    """Each cell's permutation z-score and family-wise adjusted p-value, for every map tested together.

    ``z[m]`` (per cell of map ``m``; positive: generated activations in excess) is the generated
    images' count of activations in the cell, standardised by its exact mean and variance when the
    image labels are permuted. ``p_family[m]`` is the single-step max-statistic adjustment (Westfall
    and Young): the share of label permutations whose largest ``|z|`` over *every* cell of *every*
    map reaches the cell's ``|z|``. It controls the family-wise error over all cells at once, whatever
    their dependence, and is exact given the layout (fitted on the pooled activations without labels).
    """

    z: tuple[np.ndarray, ...]
    p_family: tuple[np.ndarray, ...]
    permutations: int
    max_null: np.ndarray  # (permutations,) the largest |z| of each permutation

    @property
    def p_normal(self) -> tuple[np.ndarray, ...]:
        """Each cell's two-sided normal p-value of its z (its own test, before the family's adjustment)."""
        return tuple(2.0 * stats.norm.sf(np.abs(z)) for z in self.z)


def _standardiser(counts: sparse.csr_matrix, n_fake: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each cell's generated count under random labels with ``n_fake`` fakes."""
    n = counts.shape[0]
    total = np.asarray(counts.sum(axis=0)).ravel()
    squares = np.asarray(counts.multiply(counts).sum(axis=0)).ravel()
    mean = total / n
    spread = np.maximum(squares - n * mean**2, 0.0)
    var = n_fake * (n - n_fake) / (n * (n - 1.0)) * spread
    return n_fake * mean, np.sqrt(var)


def cell_permutation_test(maps: list[sparse.csr_matrix], is_fake: np.ndarray, permutations: int = 4000,
                          seed: int = 0, chunk: int = 256) -> CellTest:
    """Permutation max-``|z|`` test of every cell of every map (rows of each map: the same images).

    Cells that no label permutation can change (empty, or every image contributing alike) get
    ``z = 0`` and ``p_family = 1``."""
    is_fake = np.asarray(is_fake, dtype=bool)
    n_fake = int(is_fake.sum())
    rng = np.random.default_rng(seed)
    observed, standard, transposed = [], [], []
    for counts in maps:
        mean, sd = _standardiser(counts, n_fake)
        live = sd > 0
        z = np.zeros(counts.shape[1])
        z[live] = (np.asarray(counts[is_fake].sum(axis=0)).ravel()[live] - mean[live]) / sd[live]
        observed.append(z)
        standard.append((mean[live], sd[live], live))
        transposed.append(counts.T.tocsr())
    max_null = np.zeros(permutations)
    for start in range(0, permutations, chunk):
        # drawn a chunk at a time (row by row from one stream: the same labels as one big draw), so memory
        # stays chunk x images whatever the number of permutations; float64: counts sum exactly
        block = np.zeros((min(chunk, permutations - start), len(is_fake)))
        block[:, :n_fake] = 1.0
        block = np.ascontiguousarray(rng.permuted(block, axis=1).T)  # (n_images, b)
        for counts_t, (mean, sd, live) in zip(transposed, standard):
            if not live.any():
                continue
            sums = np.asarray(counts_t[live] @ block)  # (live cells, b)
            z_null = np.abs((sums - mean[:, None]) / sd[:, None])
            np.maximum(max_null[start : start + chunk], z_null.max(axis=0), out=max_null[start : start + chunk])
    ordered = np.sort(max_null)
    p_family = []
    for z in observed:
        exceed = permutations - np.searchsorted(ordered, np.abs(z) * (1.0 - 1e-12), side="left")
        p = (1.0 + exceed) / (permutations + 1.0)
        p_family.append(np.where(z != 0, p, 1.0))
    return CellTest(tuple(observed), tuple(p_family), permutations, max_null)


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
