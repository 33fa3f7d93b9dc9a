"""Fréchet distance between two Gaussians fitted to feature sets (FID when the features are Inception's).

``d² = |μ_a − μ_b|² + tr Σ_a + tr Σ_b − 2 tr (Σ_a Σ_b)^{1/2}``

The only hard part is ``tr (Σ_a Σ_b)^{1/2}``. Peers call ``scipy.linalg.sqrtm`` on the non-symmetric
product (a complex Schur decomposition, slow, and broken by several scipy releases) or take
``eigvals`` of it (also non-symmetric). We use a symmetric route instead: with any factor
``Σ_a = R Rᵀ`` the product ``Σ_a Σ_b`` is similar to ``Rᵀ Σ_b R``, which is symmetric positive
semi-definite, so ``tr (Σ_a Σ_b)^{1/2} = Σ_i sqrt(λ_i(Rᵀ Σ_b R))`` from one real ``eigvalsh``.
``R`` is the Cholesky factor when a covariance is positive definite, else ``V diag(sqrt λ)`` from
``eigh`` (rank-deficient covariances, N ≤ d). Rounding can make tiny eigenvalues negative; they are
clamped to zero, where their square root belongs.

When both sets are given as samples and have fewer samples than dimensions (pixels as features, a
random network's 4096-d layer on a few hundred images), the ``d x d`` covariances are never formed:
with centred samples ``A`` (``n_a x d``) and ``B``, ``Σ_a Σ_b = AᵀA BᵀB / ((n_a-1)(n_b-1))`` has the same
non-zero eigenvalues as ``(ABᵀ)(ABᵀ)ᵀ``, so ``tr (Σ_a Σ_b)^{1/2}`` is the sum of the singular values of
the ``n_a x n_b`` matrix ``ABᵀ`` over ``sqrt((n_a-1)(n_b-1))`` -- exact, and ``O(n_a n_b d)`` instead of
``O(d³)`` (12288-d pixels of 64-px images: a second instead of many minutes and gigabytes).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from genlens.errors import InputError
from genlens.metrics._result import MetricResult
from genlens.metrics._validate import ArrayLike, pick_device
from genlens.metrics.gaussian import GaussianStats


class RankDeficientCovarianceWarning(UserWarning):
    """A covariance was estimated from no more samples than dimensions, so it is singular."""


@dataclass(frozen=True)
class FrechetDistance(MetricResult):
    """``value = mean_term + covariance_term``; the split says whether the sets differ in where they
    sit (mean) or in how they spread (covariance)."""

    value: float
    mean_term: float
    covariance_term: float
    n_a: int
    n_b: int
    dim: int
    sqrt_method: str  # "cholesky", "eigh" or "low-rank": how the square-root term was computed


def _psd_factor(s: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    """A Cholesky factor of ``s`` if it is numerically positive definite, else ``(None, "")``."""
    factor, info = torch.linalg.cholesky_ex(s)
    if int(info) == 0 and bool(torch.isfinite(factor).all()):
        return factor, "cholesky"
    return None, ""


def _congruence(root: torch.Tensor, s: torch.Tensor, lower_triangular: bool) -> torch.Tensor:
    """``Rᵀ S R``. On the CPU a triangular ``R`` goes through BLAS ``trmm``, which touches only its
    triangle: half the work of two general matmuls, the largest cost of the whole distance."""
    if lower_triangular and root.device.type == "cpu" and root.dtype == torch.float64:
        from scipy.linalg import blas

        r = root.numpy()
        s_r = blas.dtrmm(1.0, r, s.numpy(), side=1, lower=1)  # S R
        return torch.from_numpy(blas.dtrmm(1.0, r, s_r, side=0, lower=1, trans_a=1))  # Rᵀ (S R)
    return root.T @ s @ root


def trace_sqrt_product(s_a: torch.Tensor, s_b: torch.Tensor) -> tuple[torch.Tensor, str]:
    """``tr (S_a S_b)^{1/2}`` for symmetric PSD ``S_a``, ``S_b``; also returns which factor was used."""
    root, method = _psd_factor(s_a)
    other = s_b
    if root is None:
        root, method = _psd_factor(s_b)
        other = s_a
    if root is None:  # both singular: a square-root factor from the eigendecomposition of S_a
        evals, evecs = torch.linalg.eigh(s_a)
        root, method, other = evecs * evals.clamp_min(0).sqrt(), "eigh", s_b
    inner = _congruence(root, other, lower_triangular=method == "cholesky")
    inner = (inner + inner.T) * 0.5
    return torch.linalg.eigvalsh(inner).clamp_min(0).sqrt().sum(), method


def _rank_warning(label: str, n: int, dim: int) -> None:
    warnings.warn(
        f"set {label} has n={n} samples for d={dim} features, so its covariance is singular; "
        f"the Fréchet distance is biased upwards and unstable. Use more than {dim} samples "
        "(10k or more is customary for d=2048).",
        RankDeficientCovarianceWarning,
        stacklevel=3,
    )


def _low_rank(a: ArrayLike, b: ArrayLike, device: torch.device) -> FrechetDistance | None:
    """The exact distance from the samples' ``n_a x n_b`` cross product when both have ``n < d``, else None."""
    from genlens.metrics._validate import as_features, check_same_dim

    shapes = [tuple(getattr(v, "shape", ())) for v in (a, b)]
    if all(len(shape) == 2 and shape[0] >= shape[1] for shape in shapes):
        return None  # the usual n >= d: no float64 copy of the samples just to find that out
    x = as_features(a, "a", device=device, min_samples=2, what="the Fréchet distance").to(torch.float64)
    y = as_features(b, "b", device=device, min_samples=2, what="the Fréchet distance").to(torch.float64)
    check_same_dim(x, y, ("a", "b"))
    (n_a, dim), n_b = x.shape, int(y.shape[0])
    if max(n_a, n_b) >= dim:
        return None
    for label, n in (("a", n_a), ("b", n_b)):
        _rank_warning(label, n, dim)
    mean_a, mean_b = x.mean(0), y.mean(0)
    ca, cb = x - mean_a, y - mean_b
    diff = mean_a - mean_b
    traces = float((ca * ca).sum() / (n_a - 1) + (cb * cb).sum() / (n_b - 1))
    tr_sqrt = float(torch.linalg.svdvals(ca @ cb.T).sum()) / float(((n_a - 1) * (n_b - 1)) ** 0.5)
    mean_term = float(diff @ diff)
    cov_term = max(traces - 2.0 * tr_sqrt, 0.0)
    return FrechetDistance(value=mean_term + cov_term, mean_term=mean_term, covariance_term=cov_term,
                           n_a=n_a, n_b=n_b, dim=dim, sqrt_method="low-rank")


def _as_stats(x: GaussianStats | ArrayLike, name: str, device: torch.device) -> GaussianStats:
    if isinstance(x, GaussianStats):
        return x.to(device)
    return GaussianStats.from_features(x, device=device, name=name)


def frechet_distance(
    a: GaussianStats | ArrayLike,
    b: GaussianStats | ArrayLike,
    *,
    device: str | torch.device | None = None,
) -> FrechetDistance:
    """Fréchet distance between Gaussians fitted to ``a`` and ``b``.

    ``a`` and ``b`` are ``(n, d)`` feature arrays (numpy or torch) or :class:`GaussianStats`. Runs in
    float64 on ``device`` (default: the GPU when present). Warns with
    :class:`RankDeficientCovarianceWarning` when a set has ``n <= d`` samples: the distance is still
    defined but biased upwards and noisy.
    """
    dev = pick_device(*(x for x in (a, b) if not isinstance(x, GaussianStats)), device=device)
    if not isinstance(a, GaussianStats) and not isinstance(b, GaussianStats):
        low_rank = _low_rank(a, b, dev)
        if low_rank is not None:
            return low_rank
    sa, sb = _as_stats(a, "a", dev), _as_stats(b, "b", dev)
    if sa.dim != sb.dim:
        raise InputError(
            f"feature dimension mismatch: a has d={sa.dim} but b has d={sb.dim}; "
            "extract both sets with the same feature extractor and layer."
        )
    cov_a, cov_b = sa.covariance(), sb.covariance()  # raise TooFewSamplesError below 2 samples
    for label, s in (("a", sa), ("b", sb)):
        if s.n <= s.dim:
            _rank_warning(label, s.n, s.dim)
    diff = sa.mean - sb.mean
    mean_term = float(diff @ diff)
    tr_sqrt, method = trace_sqrt_product(cov_a, cov_b)
    traces = float(torch.trace(cov_a) + torch.trace(cov_b))
    cov_term = traces - 2.0 * float(tr_sqrt)
    if cov_term < -1e-6 * max(traces, 1e-300):
        warnings.warn(
            f"covariance term came out at {cov_term:.3g} (< 0) beyond rounding error; "
            "the covariances may not be positive semi-definite.",
            RuntimeWarning,
            stacklevel=2,
        )
    cov_term = max(cov_term, 0.0)
    return FrechetDistance(
        value=mean_term + cov_term,
        mean_term=mean_term,
        covariance_term=cov_term,
        n_a=sa.n,
        n_b=sb.n,
        dim=sa.dim,
        sqrt_method=method,
    )
