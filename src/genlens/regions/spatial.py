"""Spatial representations: the ``(n, H, W, C)`` arrays every regions function works on.

A "pixel" is one spatial site ``(i, j)`` and its feature vector is the ``C`` values there: the RGB
triple of an image, or the channels of a feature map. Everything downstream flattens the sites to
``d = H * W`` and keeps the channels of a site together, as the DME paper's code does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genlens._finite import all_finite
from genlens.errors import InputError, TooFewSamplesError


def images_to_spatial(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 ``(n, C, H, W)`` images -> float64 ``(n, H, W, C)`` in ``[-1, 1]`` (the paper's scaling)."""
    t = torch.as_tensor(images)
    if t.dtype != torch.uint8 or t.ndim != 4:
        raise InputError(
            f"expected uint8 images of shape (n, C, H, W), got {tuple(t.shape)} {t.dtype}; "
            "pass float feature maps as (n, H, W, C) arrays instead"
        )
    if t.shape[1] not in (1, 3):
        raise InputError(
            f"uint8 images must be (n, C, H, W) with C = 1 or 3, got {tuple(t.shape)}; for channels-last "
            "arrays use genlens.io.ArraySource, which reads either layout"
        )
    return (t.to(torch.float64) / 127.5 - 1.0).permute(0, 2, 3, 1).contiguous()


def as_spatial(x: Any, name: str, min_samples: int = 1) -> torch.Tensor:
    """Validate an ``(n, H, W, C)`` array/tensor (or ``(n, H, W)``, read as ``C = 1``) -> float64 tensor.

    Raises :class:`InputError` for a wrong rank or non-finite values and
    :class:`TooFewSamplesError` for fewer than ``min_samples`` samples.
    """
    t = torch.as_tensor(x)
    if t.ndim == 3:
        t = t.unsqueeze(-1)
    if t.ndim != 4:
        raise InputError(
            f"{name} must have shape (n, H, W, C) (or (n, H, W)), got {tuple(t.shape)}"
        )
    if t.dtype == torch.uint8:
        raise InputError(
            f"{name} is uint8; convert images with genlens.regions.images_to_spatial "
            "(it also moves channels last)"
        )
    t = t.to(torch.float64)
    if t.shape[1] * t.shape[2] == 0 or t.shape[3] == 0:
        raise InputError(f"{name} has no pixels or channels: shape {tuple(t.shape)}")
    if t.shape[0] < min_samples:
        raise TooFewSamplesError(name, int(t.shape[0]), min_samples)
    if not all_finite(t):
        raise InputError(f"{name} contains NaN or infinite values; clean or drop those samples")
    return t


def check_same_layout(real: torch.Tensor, fake: torch.Tensor) -> None:
    """Real and fake must share ``(H, W, C)``: the pixel kernels compare site by site."""
    if real.shape[1:] != fake.shape[1:]:
        raise InputError(
            f"real and fake differ in (H, W, C): {tuple(real.shape[1:])} vs {tuple(fake.shape[1:])}; "
            "resize both to one size first (genlens.io.preprocess.Preprocess(size=...))"
        )


def flat_sites(x: torch.Tensor) -> torch.Tensor:
    """``(n, H, W, C)`` -> ``(n, d, C)`` with sites in raster order."""
    n, h, w, c = x.shape
    return x.reshape(n, h * w, c)


def constant_sites(x: torch.Tensor) -> torch.Tensor:
    """Bool ``(d,)``: sites whose feature vector is identical in every sample (zero variance)."""
    flat = flat_sites(x)
    return (flat == flat[:1]).all(dim=0).all(dim=-1)
