"""The one global RBF bandwidth of the regions view.

One gamma for every pixel is what makes ``exp(-gamma * ||x - y||^2)`` the product of the pixel (and
cluster) kernels, so the image CMS factorises; a per-pixel or per-cluster bandwidth would break it.
The default is the paper's median heuristic, ``gamma = 1 / median ||x_i - x_j||^2`` over whole
flattened real images; we take the median over distinct pairs ``i < j`` (the paper's code also counts
the ``n`` zero self-distances, a shift of ``O(1/n)`` in the quantile).
"""

from __future__ import annotations

import numpy as np
import torch

from genlens._device import resolve_device
from genlens.errors import ConfigError, InputError, TooFewSamplesError
from genlens.metrics.kernels import RBFKernel
from genlens.regions.spatial import as_spatial

#: The paper estimates the median on 1000 images; more adds cost, not accuracy.
DEFAULT_MAX_SAMPLES = 1000


def median_sq_distance(
    x: torch.Tensor | np.ndarray,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    device: torch.device | str | None = None,
    seed: int = 0,
) -> float:
    """Median squared Euclidean distance between distinct whole samples of ``(n, H, W, C)`` data.

    Uses a seeded random subset of ``max_samples`` samples (``genlens.metrics.kernels``' median
    heuristic, distinct pairs). Raises when fewer than two samples are given or the
    median is zero (most samples identical), since no bandwidth can be derived from that.
    """
    t = as_spatial(x, "real samples for the kernel bandwidth")
    if t.shape[0] < 2:
        raise TooFewSamplesError("the median-heuristic kernel bandwidth", int(t.shape[0]), 2)
    flat = t.reshape(t.shape[0], -1).to(resolve_device(device))
    try:
        median = 1.0 / RBFKernel.median_heuristic(flat, max_samples=max_samples, seed=seed).gamma
    except InputError as err:
        raise InputError(
            "the median squared distance between real samples is 0 (most of them are identical); "
            "the RBF bandwidth cannot be set -- use more varied real data"
        ) from err
    return median


def gamma_from_median(median: float, bandwidth_scale: float = 1.0) -> float:
    """``gamma = 1 / (bandwidth_scale * median)``: scale < 1 narrows the kernel (more sensitive)."""
    if not (np.isfinite(bandwidth_scale) and bandwidth_scale > 0):
        raise ConfigError(f"bandwidth_scale must be a positive number, got {bandwidth_scale!r}")
    return 1.0 / (bandwidth_scale * median)
