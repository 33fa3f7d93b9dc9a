"""Precision, recall, density and coverage (Naeem et al. 2020) from k-nearest-neighbour balls.

Each real sample ``r_i`` gets the ball of radius ``ρ_i`` = distance to its k-th nearest *other* real
sample (fake samples likewise, for recall). Then, with ``M`` fakes ``f_j`` and ``N`` reals:

- precision = share of fakes inside at least one real ball (fidelity);
- recall    = share of reals inside at least one *fake* ball (diversity);
- density   = ``1/(kM) Σ_j #{i : f_j in ball(r_i)}`` (fidelity that counts overlap; ~1 when matched, can exceed 1);
- coverage  = share of reals whose ball contains at least one fake (diversity, robust to outliers).

Convention: "inside" is the strict ``d < ρ`` of the ``prdc`` package, so results agree with it exactly.
Strictness matters only for ties, i.e. duplicates: a point with ``k`` or more exact copies has
``ρ = 0`` and its ball contains nothing (prdc issue #7: two identical sets score density and
coverage 0). ``strict=False`` uses ``d <= ρ`` (torch-fidelity's choice) and a warning flags
zero radii either way.

**Fast and exact.** Distances are screened in the features' own precision (float32 for extracted
features: one GEMM per ``block_size²`` tile, memory bounded however large the sets) and every
decision the screen cannot make for certain -- a pair whose distance lies within the screen's
rounding bound of a radius, a row whose k-th neighbour is not clear of the next candidates -- is
recomputed from the raw features in float64. The result is that of an exact float64 computation,
on any CPU or GPU, at the speed of a float32 one; radii on the diagonal tiles' symmetry are
computed once per pair.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from genlens._progress import track
from genlens.metrics._result import MetricResult
from genlens.metrics._validate import (
    ArrayLike,
    as_features,
    check_positive_int,
    check_same_dim,
    pick_device,
    working_dtype,
)

#: Candidates kept per row beyond ``k`` while screening for the k-th neighbour: enough that the k-th
#: is almost always clear of the first one left out (rows where it is not are recomputed exactly).
EXTRA_CANDIDATES = 4


class DuplicateSamplesWarning(UserWarning):
    """Some samples have at least k exact duplicates, so their neighbourhood radius is 0."""


@dataclass(frozen=True)
class PRDC(MetricResult):
    precision: float
    recall: float
    density: float
    coverage: float
    k: int
    strict: bool
    n_real: int
    n_fake: int

    def __float__(self) -> float:
        raise TypeError(
            "PRDC holds four numbers; choose one, e.g. `lambda a, b: prdc(a, b).coverage` for bootstrap_ci."
        )


class _Screen:
    """Squared distances of one or two sets, screened in a working precision with a rigorous bound.

    Rows are centred on a common mean first (distances do not change, magnitudes and so rounding
    errors shrink) and cast to ``dtype``. For a pair, ``|screened - exact|`` is at most
    ``gamma * (|a_i| + |b_j|)²`` with the centred norms: the dot product of ``d`` terms errs by at
    most ``d·u·|a||b|`` in any summation order, the two squared norms likewise, and rounding the centred
    rows moves each point by at most ``u`` times its norm (``u`` the unit roundoff).
    """

    def __init__(self, x: torch.Tensor, centre: torch.Tensor, dtype: torch.dtype, chunk: int = 4096) -> None:
        self.raw = x
        self.rows = torch.empty(x.shape, dtype=dtype, device=x.device)
        self.norm = torch.empty(x.shape[0], dtype=torch.float64, device=x.device)
        for i in range(0, x.shape[0], chunk):  # no float64 copy of the whole set
            centred = x[i:i + chunk].to(torch.float64) - centre
            self.rows[i:i + chunk] = centred
            self.norm[i:i + chunk] = centred.norm(dim=1)
        self.sq = (self.rows * self.rows).sum(dim=1)
        unit = torch.finfo(dtype).eps / 2
        self.gamma = 1.01 * (x.shape[1] + 8) * unit

    def tile(self, other: _Screen, i: slice, j: slice) -> torch.Tensor:
        """Screened squared distances of rows ``i`` to ``other``'s rows ``j`` (float64 for comparisons)."""
        dot = self.rows[i] @ other.rows[j].T
        return (self.sq[i, None] + other.sq[None, j] - 2.0 * dot).clamp_min_(0.0).to(torch.float64)

    def bound(self, other: _Screen, i: slice, j: slice) -> torch.Tensor:
        """The largest possible screening error of each pair of the tile."""
        return self.gamma * (self.norm[i, None] + other.norm[None, j]) ** 2


def exact_squared(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact float64 ``|a - b|²`` row by row (paired rows, not all pairs): the screen's referee."""
    diff = a.to(torch.float64) - b.to(torch.float64)
    return torch.linalg.vector_norm(diff, dim=-1).square_()


def nearest_others(screen: _Screen, keep: int, block_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``keep`` nearest other rows of every row, measured exactly and sorted.

    Returns ``(squared distances (n, keep) float64, their row indices, complete (n,))``: every row
    left out of a row's list is at least ``complete`` away (squared), so the list holds *all* rows
    nearer than that. Each tile above the diagonal is screened once and merged into both its rows'
    and its columns' candidate lists; only the candidates are then measured in float64.
    """
    n = screen.rows.shape[0]
    dev = screen.rows.device
    best = torch.full((n, keep), float("inf"), dtype=torch.float64, device=dev)
    best_idx = torch.zeros((n, keep), dtype=torch.long, device=dev)

    def merge(rows: slice, dist: torch.Tensor, cols: torch.Tensor) -> None:
        values = torch.cat([best[rows], dist], dim=1)
        index = torch.cat([best_idx[rows], cols.expand(dist.shape[0], -1)], dim=1)
        top = values.topk(keep, dim=1, largest=False)
        best[rows], best_idx[rows] = top.values, index.gather(1, top.indices)

    starts = range(0, n, block_size)
    for i in track(starts, "PRDC radii", total=len(starts)):
        rows = slice(i, min(i + block_size, n))
        for j in range(i, n, block_size):
            cols = slice(j, min(j + block_size, n))
            dist = screen.tile(screen, rows, cols)
            if i == j:
                dist.diagonal().fill_(float("inf"))
            merge(rows, dist, torch.arange(cols.start, cols.stop, device=dev)[None])
            if i != j:
                merge(cols, dist.T, torch.arange(rows.start, rows.stop, device=dev)[None])
    exact = torch.empty((n, keep), dtype=torch.float64, device=dev)
    for i in range(0, n, 256):  # 256 rows x keep candidates x d in float64 at a time
        exact[i:i + 256] = exact_squared(screen.raw[i:i + 256, None, :], screen.raw[best_idx[i:i + 256]])
    exact, order = exact.sort(dim=1)
    # A row left out of the candidates is screened at >= best[:, -1], so exactly at >= that minus its bound.
    slack = screen.gamma * (screen.norm + screen.norm.max()) ** 2
    complete = best[:, -1] - slack if keep < n - 1 else torch.full((n,), float("inf"), dtype=torch.float64, device=dev)
    return exact, best_idx.gather(1, order), complete


def kth_neighbour_squared(screen: _Screen, k: int, block_size: int) -> torch.Tensor:
    """Exact squared distance of each row to its ``k``-th nearest other row.

    A row whose ``k``-th candidate is not certainly nearer than every row left out of its list is
    measured exactly against all rows.
    """
    n = screen.rows.shape[0]
    exact, _, complete = nearest_others(screen, min(k + EXTRA_CANDIDATES, n - 1), block_size)
    kth = exact[:, k - 1].clone()
    for r in torch.nonzero(complete <= kth).flatten().tolist():
        row = exact_squared(screen.raw[r][None], screen.raw)
        row[r] = float("inf")
        kth[r] = row.kthvalue(k).values
    return kth


def _inside(screened: torch.Tensor, bound: torch.Tensor, radius2: torch.Tensor, strict: bool,
            a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``d² < ρ²`` (or ``<=``) for every pair of a tile of rows ``a`` by rows ``b``, exact: the screen
    decides the clear pairs, the rest are measured in float64."""
    inside = screened < radius2 - bound
    unsure = (screened - radius2).abs() <= bound
    if bool(unsure.any()):
        r, c = torch.nonzero(unsure, as_tuple=True)
        d2 = exact_squared(a[r], b[c])
        rad = radius2.expand_as(screened)[r, c]
        inside[r, c] = d2 < rad if strict else d2 <= rad
    return inside


def screened_sets(real: ArrayLike, fake: ArrayLike, k: int, device: str | torch.device | None,
                  screen_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor, _Screen, _Screen]:
    """Both sets checked (``k + 1`` rows each, one dimension) in their working precision, and their
    screens centred on the pooled mean, in ``screen_dtype`` (default: that working precision)."""
    dev = pick_device(real, fake, device=device)
    what = f"PRDC with k={k}"
    dtype = working_dtype(real, fake)
    x = as_features(real, "real", device=dev, dtype=dtype, min_samples=k + 1, what=what)
    y = as_features(fake, "fake", device=dev, dtype=dtype, min_samples=k + 1, what=what)
    check_same_dim(x, y, ("real", "fake"))
    centre = (x.sum(dim=0, dtype=torch.float64) + y.sum(dim=0, dtype=torch.float64)) / (x.shape[0] + y.shape[0])
    screen = screen_dtype or dtype
    return x, y, _Screen(x, centre, screen), _Screen(y, centre, screen)


def prdc(
    real: ArrayLike,
    fake: ArrayLike,
    k: int = 5,
    *,
    strict: bool = True,
    block_size: int = 2048,
    device: str | torch.device | None = None,
) -> PRDC:
    """Precision, recall, density and coverage of ``fake`` ``(M, d)`` against ``real`` ``(N, d)``.

    ``k=5`` is the prdc paper's and dgm-eval's choice (torch-fidelity uses 3). Each set needs at
    least ``k + 1`` samples. Runs on ``device`` (default: the GPU when present), screening in the
    features' precision and deciding every close call in float64 (see the module docstring).
    """
    k = check_positive_int(k, "k")
    block_size = check_positive_int(block_size, "block_size")
    x, y, sx, sy = screened_sets(real, fake, k, device)
    dev = x.device
    n, m = int(x.shape[0]), int(y.shape[0])

    real_r2 = kth_neighbour_squared(sx, k, block_size)
    fake_r2 = kth_neighbour_squared(sy, k, block_size)
    for label, radii in (("real", real_r2), ("fake", fake_r2)):
        zero = int((radii == 0).sum())
        if zero:
            warnings.warn(
                f"{zero} {label} samples have {k} or more exact duplicates, so their k-NN radius is 0"
                + (" and, with the strict '<' convention, their ball contains nothing" if strict else "")
                + ". Deduplicate the set, or pass strict=False to count points at distance 0.",
                DuplicateSamplesWarning,
                stacklevel=2,
            )

    precision_hit = torch.zeros(m, dtype=torch.bool, device=dev)
    density_count = torch.zeros(m, dtype=torch.int64, device=dev)
    recall_hit = torch.zeros(n, dtype=torch.bool, device=dev)
    coverage_hit = torch.zeros(n, dtype=torch.bool, device=dev)
    for i in track(range(0, n, block_size), "PRDC", total=-(-n // block_size)):
        rows = slice(i, min(i + block_size, n))
        for j in range(0, m, block_size):
            cols = slice(j, min(j + block_size, m))
            screened, bound = sx.tile(sy, rows, cols), sx.bound(sy, rows, cols)
            in_real_ball = _inside(screened, bound, real_r2[rows, None], strict, x[rows], y[cols])  # fake j, real i
            precision_hit[cols] |= in_real_ball.any(dim=0)
            density_count[cols] += in_real_ball.sum(dim=0)
            coverage_hit[rows] |= in_real_ball.any(dim=1)
            recall_hit[rows] |= _inside(screened, bound, fake_r2[None, cols], strict, x[rows], y[cols]).any(dim=1)
    return PRDC(
        precision=float(precision_hit.double().mean()),
        recall=float(recall_hit.double().mean()),
        density=float(density_count.double().mean()) / k,
        coverage=float(coverage_hit.double().mean()),
        k=k,
        strict=strict,
        n_real=n,
        n_fake=m,
    )
