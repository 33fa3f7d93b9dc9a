"""Kernel Inception Distance: unbiased cubic-polynomial MMD² averaged over random subsets.

Subsets are drawn exactly as torch-fidelity draws them -- ``numpy.random.RandomState(seed)``, then for
each subset ``choice(n_a, m, replace=False)`` followed by ``choice(n_b, m, replace=False)`` -- so with
``seed=2020`` (torch-fidelity's default) the same features give torch-fidelity's number. The ``±`` is
the standard deviation over subsets with ddof 0, as in torch-fidelity and torchmetrics.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
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
from genlens.metrics.kernels import Kernel, PolynomialKernel
from genlens.metrics.mean_embeddings import mean_embedding_products


class SubsetSizeClippedWarning(UserWarning):
    """KID's subset size was larger than a set and was reduced to fit."""


@dataclass(frozen=True)
class KIDResult(MetricResult):
    headline = "mean"

    mean: float
    std: float
    subsets: int
    subset_size: int
    seed: int
    kernel: dict[str, Any]
    n_a: int
    n_b: int


def kid(
    a: ArrayLike,
    b: ArrayLike,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
    kernel: Kernel | None = None,
    device: str | torch.device | None = None,
) -> KIDResult:
    """KID between feature sets ``a`` ``(n_a, d)`` and ``b`` ``(n_b, d)``.

    ``subset_size`` larger than the smaller set is clipped to its size with a
    :class:`SubsetSizeClippedWarning` (then every subset holds the whole smaller set and the ``std``
    reflects only the other set's resampling). Each set needs at least 2 samples.
    ``kernel`` defaults to ``(x·y/d + 1)³``. Float32 features (what extractors give) are multiplied in
    float32, as torch-fidelity does, and every kernel sum is accumulated in float64; float64 features
    stay float64 throughout.
    """
    subsets = check_positive_int(subsets, "subsets")
    subset_size = check_positive_int(subset_size, "subset_size", minimum=2)
    dev = pick_device(a, b, device=device)
    dtype = working_dtype(a, b)
    x = as_features(a, "a", device=dev, dtype=dtype, min_samples=2, what="KID")
    y = as_features(b, "b", device=dev, dtype=dtype, min_samples=2, what="KID")
    check_same_dim(x, y, ("a", "b"))
    n_a, n_b = int(x.shape[0]), int(y.shape[0])
    size = min(subset_size, n_a, n_b)
    if size < subset_size:
        warnings.warn(
            f"KID subset size {subset_size} is larger than the smaller set ({min(n_a, n_b)} samples); "
            f"using subsets of {size}. KID values from different subset sizes are comparable in "
            "expectation but not in variance; pass subset_size to silence this.",
            SubsetSizeClippedWarning,
            stacklevel=2,
        )
    k = kernel if kernel is not None else PolynomialKernel()
    rng = np.random.RandomState(seed)
    values = np.empty(subsets, dtype=np.float64)
    for i in track(range(subsets), "KID subsets", total=subsets):
        ia = torch.from_numpy(rng.choice(n_a, size, replace=False)).to(dev)
        ib = torch.from_numpy(rng.choice(n_b, size, replace=False)).to(dev)
        p = mean_embedding_products(x[ia], y[ib], k, "unbiased", block_size=size)
        values[i] = p.aa + p.bb - 2.0 * p.ab
    return KIDResult(
        mean=float(values.mean()),
        std=float(values.std()),
        subsets=subsets,
        subset_size=size,
        seed=seed,
        kernel=k.to_dict(),
        n_a=n_a,
        n_b=n_b,
    )
