"""MMD² and the cosine similarity of mean embeddings (CMS), from blocked kernel sums.

Both compare the kernel mean embeddings ``μ_P``, ``μ_Q`` of the two sets:
``MMD² = |μ_P − μ_Q|²`` (0 when the distributions match, for a characteristic kernel such as RBF) and
``CMS = <μ_P, μ_Q> / (|μ_P| |μ_Q|)`` (1 when they match). Each comes as

- ``"biased"``: V-statistics, every pair including ``i = j`` -- CMS of a set with itself is exactly 1;
- ``"unbiased"``: U-statistics, the within-set means skip ``i = j`` -- unbiased MMD² can be slightly
  negative when the sets match, which is expected, not a bug.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from genlens.errors import ConfigError, InputError
from genlens.metrics._result import MetricResult
from genlens.metrics._validate import ArrayLike, as_features, check_same_dim, pick_device
from genlens.metrics.kernels import Kernel, kernel_sums, resolve_kernel

Estimator = Literal["biased", "unbiased"]


@dataclass(frozen=True)
class MMDResult(MetricResult):
    value: float
    estimator: str
    kernel: dict[str, Any]
    n_a: int
    n_b: int


@dataclass(frozen=True)
class CMSResult(MetricResult):
    value: float
    estimator: str
    kernel: dict[str, Any]
    n_a: int
    n_b: int


@dataclass(frozen=True)
class MeanEmbeddingProducts:
    """Estimates of ``|μ_a|²``, ``|μ_b|²`` and ``<μ_a, μ_b>`` from one set of kernel sums."""

    aa: float
    bb: float
    ab: float


def _check_estimator(estimator: str) -> Estimator:
    if estimator not in ("biased", "unbiased"):
        raise ConfigError(f"estimator must be 'biased' or 'unbiased', got {estimator!r}.")
    return estimator  # type: ignore[return-value]


def _prepare(
    a: ArrayLike, b: ArrayLike, kernel: str | Kernel, estimator: str, what: str,
    device: str | torch.device | None,
) -> tuple[torch.Tensor, torch.Tensor, Kernel, Estimator]:
    estimator = _check_estimator(estimator)
    minimum = 2 if estimator == "unbiased" else 1
    dev = pick_device(a, b, device=device)
    x = as_features(a, "a", device=dev, min_samples=minimum, what=f"{what} ({estimator})")
    y = as_features(b, "b", device=dev, min_samples=minimum, what=f"{what} ({estimator})")
    check_same_dim(x, y, ("a", "b"))
    return x, y, resolve_kernel(kernel, x, y), estimator


def mean_embedding_products(
    x: torch.Tensor, y: torch.Tensor, kernel: Kernel, estimator: Estimator, block_size: int = 4096
) -> MeanEmbeddingProducts:
    """Kernel-sum estimates of the three inner products that MMD and CMS are made of."""
    n, m = x.shape[0], y.shape[0]
    sxx = kernel_sums(kernel, x, block_size=block_size)
    syy = kernel_sums(kernel, y, block_size=block_size)
    sxy = kernel_sums(kernel, x, y, block_size=block_size)
    if estimator == "biased":
        return MeanEmbeddingProducts(sxx.total / (n * n), syy.total / (m * m), sxy.total / (n * m))
    return MeanEmbeddingProducts(
        (sxx.total - sxx.diagonal) / (n * (n - 1)),
        (syy.total - syy.diagonal) / (m * (m - 1)),
        sxy.total / (n * m),
    )


def mmd(
    a: ArrayLike,
    b: ArrayLike,
    kernel: str | Kernel = "rbf",
    *,
    estimator: Estimator = "unbiased",
    block_size: int = 4096,
    device: str | torch.device | None = None,
) -> MMDResult:
    """MMD² between the rows of ``a`` ``(n, d)`` and ``b`` ``(m, d)``.

    ``kernel``: ``"rbf"`` (bandwidth by the median heuristic on the pooled sets, recorded in the
    result), ``"poly"`` (KID's cubic), ``"linear"``, or a kernel object such as
    ``RBFKernel.from_bandwidth(…)``. Kernel sums run in ``block_size²`` tiles, float64.
    """
    x, y, k, est = _prepare(a, b, kernel, estimator, "MMD²", device)
    p = mean_embedding_products(x, y, k, est, block_size)
    return MMDResult(p.aa + p.bb - 2.0 * p.ab, est, k.to_dict(), int(x.shape[0]), int(y.shape[0]))


def cms(
    a: ArrayLike,
    b: ArrayLike,
    kernel: str | Kernel = "rbf",
    *,
    estimator: Estimator = "biased",
    block_size: int = 4096,
    device: str | torch.device | None = None,
) -> CMSResult:
    """Cosine similarity of the kernel mean embeddings of ``a`` and ``b`` (1 = same embedding).

    ``"biased"`` is ``mean K_ab / sqrt(mean K_aa · mean K_bb)`` (all pairs), the estimator of the
    mean-embedding-disentanglement paper's code; ``"unbiased"`` uses off-diagonal means for the two norms.
    """
    x, y, k, est = _prepare(a, b, kernel, estimator, "CMS", device)
    p = mean_embedding_products(x, y, k, est, block_size)
    if not (p.aa > 0 and p.bb > 0):
        raise InputError(
            f"CMS is undefined here: the {est} estimate of a squared mean-embedding norm is "
            f"{min(p.aa, p.bb):.3g} (<= 0). Use a positive kernel such as 'rbf', the 'biased' "
            "estimator, or more samples."
        )
    return CMSResult(p.ab / math.sqrt(p.aa * p.bb), est, k.to_dict(), int(x.shape[0]), int(y.shape[0]))
