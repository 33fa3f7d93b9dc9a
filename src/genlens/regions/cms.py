"""Cluster-wise cosine mean similarity (CMS) in one pass, with its product check, CIs and noise floor.

For every cluster ``j`` we form the squared-distance matrices ``D_j`` between samples restricted to its
pixels; the cluster kernel is ``exp(-gamma D_j)`` and the image kernel ``exp(-gamma sum_j D_j)`` --
the same numbers the image-level RBF kernel gives, so the image CMS and every cluster CMS come from one
pass over the data. Every estimate (point, bootstrap replicate, real-vs-real split) is a weighted
block mean of those kernel matrices: a replicate is a matrix of sample counts ``W`` and the sums are
``W K W^T`` -- matrix products, no loop over samples.

CMS = <mu_P, mu_Q> / (||mu_P|| ||mu_Q||). ``biased``: the V-statistic ``mean K_XY / sqrt(mean K_XX
mean K_YY)`` (the paper; <= 1). ``unbiased``: the norms use off-diagonal means (may exceed 1 by noise).
``pooled`` uses all samples at once; ``minibatch`` averages the CMS over every (real batch, fake batch)
pair as the paper's code does (real batches of 150, fake batches of 20 there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from genlens._device import resolve_device
from genlens._progress import track
from genlens.errors import ConfigError, InputError, TooFewSamplesError
from genlens.metrics.kernels import squared_distances
from genlens.regions.spatial import as_spatial, check_same_layout, flat_sites
from genlens.statistics import half_splits, multiplicities, resample_indices

CmsEstimator = Literal["biased", "unbiased"]
CmsMode = Literal["pooled", "minibatch"]


@dataclass(frozen=True)
class CmsPlan:
    """How to estimate CMS: estimator, form, bootstrap and noise-floor settings."""

    estimator: CmsEstimator = "biased"
    mode: CmsMode = "pooled"
    real_batch: int = 150
    fake_batch: int = 20
    n_boot: int = 200
    level: float = 0.95
    floor_splits: int = 5
    seed: int = 0
    #: ``"both"`` resamples real and fake (a comparison's CI); ``"fake"`` only the fake set (the noise of
    #: one generator's measurement against a fixed real set, as tracking compares steps).
    resample: Literal["both", "fake"] = "both"

    def check(self) -> None:
        if self.estimator not in ("biased", "unbiased"):
            raise ConfigError(f"CMS estimator must be 'biased' or 'unbiased', got {self.estimator!r}")
        if self.mode not in ("pooled", "minibatch"):
            raise ConfigError(f"CMS mode must be 'pooled' or 'minibatch', got {self.mode!r}")
        if not 0.0 < self.level < 1.0:
            raise ConfigError(f"CI level must be in (0, 1), got {self.level}")
        if self.resample not in ("both", "fake"):
            raise ConfigError(f"CMS resample must be 'both' or 'fake', got {self.resample!r}")
        if self.n_boot < 0 or self.floor_splits < 0:
            raise ConfigError("n_boot and floor_splits must be >= 0")
        if min(self.real_batch, self.fake_batch) < 2:
            raise ConfigError("minibatch sizes must be >= 2")


@dataclass(frozen=True)
class CmsEstimates:
    """Raw outputs of :func:`cluster_cms`; index ``0..k-1`` are clusters, arrays are float64.

    ``boot_*`` are bootstrap replicates ``(n_boot, ...)``; ``floor_*`` the real-vs-real CMS averaged
    over random half splits of the real set. The biased floor is evaluated at the real and fake
    (batch) sizes of the actual comparison -- the value a generator that samples the real
    distribution exactly would get -- rather than at half size, where the V-statistic's diagonal
    weighs twice as much and the floor would sit too low.
    """

    clusters: np.ndarray
    image: float
    boot_clusters: np.ndarray
    boot_image: np.ndarray
    floor_clusters: np.ndarray
    floor_image: float

    @property
    def product(self) -> float:
        return float(np.prod(self.clusters))

    @property
    def boot_product(self) -> np.ndarray:
        return np.prod(self.boot_clusters, axis=1)


def cluster_cms(
    real: torch.Tensor | np.ndarray,
    fake: torch.Tensor | np.ndarray,
    labels: np.ndarray,
    gamma: float,
    plan: CmsPlan | None = None,
    device: torch.device | str | None = None,
) -> CmsEstimates:
    """Image and per-cluster CMS of ``(n, H, W, C)`` real vs fake samples under the partition ``labels``."""
    plan = plan or CmsPlan()
    plan.check()
    if not (math.isfinite(gamma) and gamma > 0):
        raise ConfigError(f"gamma must be positive and finite, got {gamma!r}")
    min_n = 4 if plan.floor_splits else 2
    x = as_spatial(real, "real samples", min_samples=min_n)
    y = as_spatial(fake, "fake samples", min_samples=2)
    check_same_layout(x, y)
    labels = np.asarray(labels).ravel()
    if labels.size != x.shape[1] * x.shape[2]:
        raise InputError(
            f"partition is for {labels.size} pixels but the samples have {x.shape[1]}x{x.shape[2]}; "
            "use a partition made on images of this size"
        )
    dev = resolve_device(device)
    xs, ys = flat_sites(x).to(dev), flat_sites(y).to(dev)
    gen = torch.Generator().manual_seed(plan.seed)
    weights = _Weights.build(xs.shape[0], ys.shape[0], plan, gen, dev)

    k = int(labels.max()) + 1
    sums = [torch.zeros(n, m, dtype=torch.float64, device=dev) for n, m in _shapes(xs, ys)]
    results = []
    for j in track(range(k), "cluster-wise CMS", total=k):
        idx = torch.as_tensor(np.flatnonzero(labels == j), device=dev)
        dists = _sq_dists(xs[:, idx].flatten(1), ys[:, idx].flatten(1))
        for acc, dj in zip(sums, dists):
            acc += dj
        results.append(weights.evaluate([torch.exp(-gamma * dj) for dj in dists], plan))
    image = weights.evaluate([torch.exp(-gamma * s) for s in sums], plan)
    point, boot, floor = (np.stack([r[i] for r in results], axis=-1) for i in range(3))
    return CmsEstimates(
        clusters=point[0],
        image=float(image[0][0]),
        boot_clusters=boot,
        boot_image=image[1],
        floor_clusters=floor.mean(axis=0) if floor.size else np.full(k, np.nan),
        floor_image=float(image[2].mean()) if image[2].size else float("nan"),
    )


def _shapes(xs: torch.Tensor, ys: torch.Tensor) -> list[tuple[int, int]]:
    n, m = xs.shape[0], ys.shape[0]
    return [(n, n), (m, m), (n, m)]


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
    """``[D_XX, D_YY, D_XY]`` squared Euclidean distances in float64; exact zeros on self-diagonals."""
    return [
        squared_distances(a, a).fill_diagonal_(0.0),
        squared_distances(b, b).fill_diagonal_(0.0),
        squared_distances(a, b),
    ]


@dataclass(frozen=True)
class _Draws:
    """Sample indices ``(R, length)`` of ``R`` replicates, split into ``n_batches`` consecutive batches."""

    draws: torch.Tensor
    n_batches: int
    n: int

    def counts(self, lo: int, hi: int, dev: torch.device) -> torch.Tensor:
        """Counts ``(hi - lo, n_batches, n)`` of each sample in each batch of replicates ``lo..hi``."""
        length = self.draws.shape[1]
        sizes = [len(s) for s in np.array_split(np.arange(length), self.n_batches)]
        batch_of = np.repeat(np.arange(self.n_batches), sizes)
        w = multiplicities(self.draws[lo:hi], self.n, groups=batch_of, n_groups=self.n_batches)
        return torch.from_numpy(w.astype(np.float64)).to(dev)


@dataclass(frozen=True)
class _Weights:
    """Index draws of the point estimate, the bootstrap replicates and the real half-splits.

    Count matrices are built a few replicates at a time, so minibatch bootstraps on large sets stay
    within ``_COUNT_CHUNK_BYTES`` of memory.
    """

    point: tuple[_Draws, _Draws]
    boot: tuple[_Draws, _Draws] | None
    floor: tuple[_Draws, _Draws] | None
    device: torch.device

    @classmethod
    def build(cls, n: int, m: int, plan: CmsPlan, gen: torch.Generator, dev: torch.device) -> _Weights:
        def batches(length: int, size: int) -> int:
            return 1 if plan.mode == "pooled" else max(1, length // size)

        bx, by = batches(n, plan.real_batch), batches(m, plan.fake_batch)
        point = (_Draws(torch.arange(n)[None], bx, n), _Draws(torch.arange(m)[None], by, m))
        boot = None
        if plan.n_boot:  # real then fake resamples, then the floor's splits, all from ``gen``
            rx = resample_indices(n, plan.n_boot, gen)
            ry = resample_indices(m, plan.n_boot, gen)
            if plan.resample == "fake":  # still drawn above, so the fake resamples stay the same
                rx = torch.arange(n).expand(plan.n_boot, n)
            boot = (_Draws(rx, bx, n), _Draws(ry, by, m))
        floor = None
        if plan.floor_splits:
            half = n // 2
            first, second = half_splits(n, plan.floor_splits, gen)
            floor = (
                _Draws(first, batches(half, plan.real_batch), n),
                _Draws(second, batches(half, plan.fake_batch), n),
            )
        return cls(point, boot, floor, dev)

    def evaluate(self, kernels: list[torch.Tensor], plan: CmsPlan) -> list[np.ndarray]:
        """``[point (1,), boot (n_boot,), floor (floor_splits,)]`` CMS for kernels ``[K_XX, K_YY, K_XY]``."""
        kxx, kyy, kxy = kernels
        unbiased = plan.estimator == "unbiased"
        out = [self._run(kxx, kyy, kxy, self.point, unbiased)]
        out.append(self._run(kxx, kyy, kxy, self.boot, unbiased) if self.boot else np.empty(0))
        # the biased floor is evaluated at the (batch) sizes of the real-vs-fake comparison
        sizes = (self.point[0].n / self.point[0].n_batches, self.point[1].n / self.point[1].n_batches)
        out.append(self._run(kxx, kxx, kxx, self.floor, unbiased, sizes) if self.floor else np.empty(0))
        return out

    def _run(
        self,
        kxx: torch.Tensor,
        kyy: torch.Tensor,
        kxy: torch.Tensor,
        draws: tuple[_Draws, _Draws],
        unbiased: bool,
        sizes: tuple[float, float] | None = None,
    ) -> np.ndarray:
        dx, dy = draws
        per_replicate = 8 * (dx.n_batches * dx.n + dy.n_batches * dy.n)
        step = max(1, _COUNT_CHUNK_BYTES // per_replicate)
        total = dx.draws.shape[0]
        return np.concatenate([
            _cms(kxx, kyy, kxy, dx.counts(lo, lo + step, self.device), dy.counts(lo, lo + step, self.device),
                 unbiased, sizes)
            for lo in range(0, total, step)
        ])


#: Memory for the count matrices of one chunk of replicates.
_COUNT_CHUNK_BYTES = 64 * 2**20


def _cms(
    kxx: torch.Tensor,
    kyy: torch.Tensor,
    kxy: torch.Tensor,
    wx: torch.Tensor,
    wy: torch.Tensor,
    unbiased: bool,
    as_sizes: tuple[float, float] | None = None,
) -> np.ndarray:
    """Mean over batch pairs of CMS, for each replicate: ``(R,)``.

    ``as_sizes`` evaluates the biased norms as they would be at other batch sizes (see
    :func:`_self_mean`); the noise floor uses it to match the real/fake sample sizes.
    """
    mx, my = wx.sum(-1), wy.sum(-1)  # batch sizes (R, bx), (R, by)
    sx, sy = as_sizes if as_sizes is not None else (None, None)
    xx = _self_mean(kxx, wx, mx, unbiased, sx)
    yy = _self_mean(kyy, wy, my, unbiased, sy)
    xy = (wx @ kxy) @ wy.transpose(1, 2) / (mx[:, :, None] * my[:, None, :])
    ratio = xy / torch.sqrt(xx[:, :, None] * yy[:, None, :])
    return ratio.mean(dim=(1, 2)).cpu().numpy()


def _self_mean(
    k: torch.Tensor, w: torch.Tensor, m: torch.Tensor, unbiased: bool, as_size: float | None = None
) -> torch.Tensor:
    """Estimate of ``||mu||^2`` per batch: V-statistic, U-statistic, or the V-statistic at ``as_size``.

    The V-statistic at size ``s`` is ``diag/s + (1 - 1/s) * offdiag``; with ``s = m`` it equals the
    plain V-statistic, so ``as_size`` only moves the diagonal weight to another sample size.
    """
    total = ((w @ k) * w).sum(-1)
    if not unbiased and as_size is None:
        return total / (m * m)
    if bool((m < 2).any()):
        raise TooFewSamplesError("the unbiased CMS (per batch)", int(m.min()), 2)
    diag = (w * torch.diagonal(k)).sum(-1)
    off = (total - diag) / (m * (m - 1))
    if unbiased:
        return off
    return diag / m / as_size + (1.0 - 1.0 / as_size) * off
