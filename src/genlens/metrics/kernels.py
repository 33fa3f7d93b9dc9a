"""Kernels and blocked kernel sums: the one kernel module behind KID, MMD, CMS and the regions view.

A kernel maps ``(..., n, d)`` and ``(..., m, d)`` tensors to the ``(..., n, m)`` Gram matrix, so a
batch of small problems (one per pixel, one per cluster) is one call. Estimators only need *sums* of
kernel values, which :func:`kernel_sums` accumulates over tiles of bounded size, in float64: memory
stays at ``block_size²`` values however many samples there are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from genlens.errors import ConfigError, InputError
from genlens.metrics._validate import check_positive_int


@runtime_checkable
class Kernel(Protocol):
    """A symmetric positive-definite kernel on feature vectors."""

    name: str

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...

    def to_dict(self) -> dict[str, Any]: ...


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``|x_i - y_j|²`` for all pairs via one matmul (``|x|² + |y|² - 2 x·y``), clamped at zero."""
    xx = (x * x).sum(dim=-1, keepdim=True)
    yy = (y * y).sum(dim=-1, keepdim=True)
    return (xx + yy.mT - 2.0 * (x @ y.mT)).clamp_min_(0.0)


@dataclass(frozen=True)
class PolynomialKernel:
    """``k(x, y) = (gamma * x·y + coef0) ** degree``; KID's kernel with the defaults (``gamma = 1/d``)."""

    degree: int = 3
    gamma: float | None = None
    coef0: float = 1.0
    name: str = "polynomial"

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma = self.gamma if self.gamma is not None else 1.0 / x.shape[-1]
        return (x @ y.mT * gamma + self.coef0) ** self.degree

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LinearKernel:
    """``k(x, y) = x·y``: MMD² becomes the squared distance of the means, CMS their cosine."""

    name: str = "linear"

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x @ y.mT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RBFKernel:
    """Gaussian kernel ``k(x, y) = exp(-gamma |x - y|²)``, i.e. ``gamma = 1 / (2 bandwidth²)``.

    ``bandwidth_rule`` records how ``gamma`` was chosen, so a reported number can be reproduced.
    """

    gamma: float
    bandwidth_rule: str = "given"
    name: str = "rbf"

    def __post_init__(self) -> None:
        try:
            gamma = float(self.gamma)  # numpy / torch scalars too
        except (TypeError, ValueError):
            gamma = float("nan")
        if not (0.0 < gamma < float("inf")):
            raise InputError(f"RBF kernel gamma must be a positive finite number, got {self.gamma!r}.")
        object.__setattr__(self, "gamma", gamma)

    @classmethod
    def from_bandwidth(cls, bandwidth: float) -> RBFKernel:
        """``exp(-|x - y|² / (2 bandwidth²))``."""
        if not bandwidth > 0:
            raise InputError(f"RBF bandwidth must be positive, got {bandwidth!r}.")
        return cls(1.0 / (2.0 * bandwidth**2), bandwidth_rule=f"bandwidth={bandwidth:g}")

    @classmethod
    def median_heuristic(
        cls,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        *,
        max_samples: int = 1000,
        include_self_pairs: bool = False,
        seed: int = 0,
    ) -> RBFKernel:
        """``gamma = 1 / median |x_i - x_j|²`` over distinct pairs of the pooled rows of ``x`` and ``y``.

        At most ``max_samples`` rows (a seeded random subset) enter the median, which keeps it
        ``O(max_samples²)``. ``include_self_pairs=True`` also counts the zero self-distances, as the
        mean-embedding-disentanglement reference code does.
        """
        pooled = x if y is None else torch.cat([x, y.to(x)], dim=0)
        if pooled.shape[0] > max_samples:
            gen = torch.Generator().manual_seed(seed)
            pooled = pooled[torch.randperm(pooled.shape[0], generator=gen)[:max_samples].to(pooled.device)]
        if pooled.shape[0] < 2:
            raise InputError("the median heuristic needs at least 2 samples; pass an explicit bandwidth.")
        d2 = squared_distances(pooled, pooled)
        if include_self_pairs:
            values = d2.flatten()
        else:
            rows, cols = torch.triu_indices(*d2.shape, offset=1, device=d2.device)
            values = d2[rows, cols]
        median = float(_median(values))
        if not median > 0:
            raise InputError(
                "the median pairwise distance is 0 (most samples are identical), so no RBF bandwidth "
                "follows from the data; pass an explicit kernel, e.g. RBFKernel.from_bandwidth(1.0)."
            )
        rule = "median heuristic (pooled, distinct pairs)" if not include_self_pairs else \
            "median heuristic (pooled, self pairs included)"
        return cls(1.0 / median, bandwidth_rule=rule)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.exp(squared_distances(x, y) * -self.gamma)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _median(values: torch.Tensor) -> torch.Tensor:
    """numpy's median: the mean of the two middle values for an even count."""
    ordered = values.sort().values
    mid = ordered.shape[0] // 2
    return ordered[mid] if ordered.shape[0] % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def resolve_kernel(kernel: str | Kernel, a: torch.Tensor, b: torch.Tensor) -> Kernel:
    """A kernel object from a name: ``"rbf"`` (median heuristic on the pooled sets), ``"poly"``, ``"linear"``."""
    if isinstance(kernel, Kernel):
        return kernel
    names = {"rbf": lambda: RBFKernel.median_heuristic(a, b), "gaussian": lambda: RBFKernel.median_heuristic(a, b),
             "poly": PolynomialKernel, "polynomial": PolynomialKernel, "linear": LinearKernel}
    if not isinstance(kernel, str) or kernel.lower() not in names:
        raise ConfigError(
            f"unknown kernel {kernel!r}; use one of 'rbf', 'poly', 'linear' or a Kernel object "
            "(RBFKernel, PolynomialKernel, LinearKernel)."
        )
    return names[kernel.lower()]()


@dataclass(frozen=True)
class KernelSums:
    """Sums of one Gram matrix: all entries, and the diagonal (0 for a cross-set matrix)."""

    total: float
    diagonal: float


def kernel_sums(
    kernel: Kernel, x: torch.Tensor, y: torch.Tensor | None = None, *, block_size: int = 4096
) -> KernelSums:
    """``sum_ij k(x_i, y_j)`` in tiles of ``block_size²``; with ``y=None`` the symmetric ``K_xx``
    (only tiles on or above the diagonal are computed) and its diagonal sum."""
    block_size = check_positive_int(block_size, "block_size")
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    diagonal = torch.zeros((), dtype=torch.float64, device=x.device)
    n = x.shape[0]
    if y is not None:
        for i in range(0, n, block_size):
            for j in range(0, y.shape[0], block_size):
                total += kernel(x[i:i + block_size], y[j:j + block_size]).sum(dtype=torch.float64)
        return KernelSums(float(total), 0.0)
    for i in range(0, n, block_size):
        for j in range(i, n, block_size):
            tile = kernel(x[i:i + block_size], x[j:j + block_size])
            if i == j:
                total += tile.sum(dtype=torch.float64)
                diagonal += tile.diagonal().sum(dtype=torch.float64)
            else:
                total += 2.0 * tile.sum(dtype=torch.float64)
    return KernelSums(float(total), float(diagonal))
