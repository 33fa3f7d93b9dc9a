"""Input checks shared by every metric: one place turns user arrays into float64 torch tensors.

All metrics accept numpy arrays or torch tensors of shape ``(n, d)``. Checking here, once, means a NaN,
a wrong shape or a dimension mismatch is reported with the argument's name and the fix, instead of a
NaN score or a traceback from deep inside a matmul.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genlens._device import resolve_device
from genlens._finite import all_finite
from genlens.errors import InputError, TooFewSamplesError

ArrayLike = Any  # numpy array or torch tensor, (n, d)


def pick_device(*arrays: ArrayLike, device: str | torch.device | None = None) -> torch.device:
    """The device to compute on: the one asked for, else a CUDA device the data already lives on,
    else the GPU when present (``resolve_device``)."""
    if device is not None:
        return resolve_device(device)
    for a in arrays:
        if isinstance(a, torch.Tensor) and a.device.type == "cuda":
            return a.device
    return resolve_device(None)


def as_features(
    x: ArrayLike,
    name: str,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
    min_samples: int = 1,
    what: str | None = None,
) -> torch.Tensor:
    """Check ``x`` is a finite ``(n, d)`` array with at least ``min_samples`` rows; return it as a tensor.

    ``what`` names the statistic in the too-few-samples message (e.g. ``"KID"``).
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise InputError(f"{name}: cannot read as an (n, d) array ({exc}).") from exc
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"{name}: expected a numeric (n, d) array, got dtype {arr.dtype}.")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise InputError(f"{name}: complex values are not features; pass a real (n, d) array.")
    if t.ndim != 2:
        raise InputError(
            f"{name}: expected a 2-D (n, d) feature array, got shape {tuple(t.shape)}; "
            "flatten each sample to one row (e.g. x.reshape(len(x), -1))."
        )
    if t.shape[1] == 0:
        raise InputError(f"{name}: features have dimension 0 (shape {tuple(t.shape)}).")
    if t.shape[0] < min_samples:
        raise TooFewSamplesError(f"{what or 'this metric'} ({name})", int(t.shape[0]), min_samples)
    t = t.to(device=device, dtype=dtype)
    if not all_finite(t):
        bad = int((~torch.isfinite(t)).any(dim=1).sum())
        raise InputError(
            f"{name}: {bad} of {t.shape[0]} rows contain NaN or Inf; "
            "drop or fix those samples (a feature extractor fed broken images is the usual cause)."
        )
    return t


def working_dtype(*arrays: ArrayLike) -> torch.dtype:
    """float32 when every input is float32 (what feature extractors and caches hold), else float64.

    For Gram-matrix metrics (KID, PRDC) the matmuls are the whole cost: in float32 they run about twice
    as fast and hold half the memory. Their sums and comparisons are made exact or float64 by the
    callers, so the input's own precision is the one the result has, as with every peer library."""
    def is_float32(a: ArrayLike) -> bool:
        return (isinstance(a, torch.Tensor) and a.dtype == torch.float32) or (
            isinstance(a, np.ndarray) and a.dtype == np.float32)

    return torch.float32 if arrays and all(is_float32(a) for a in arrays) else torch.float64


def check_same_dim(a: torch.Tensor | int, b: torch.Tensor | int, names: tuple[str, str]) -> int:
    """Both sets must live in the same feature space; return the shared dimension."""
    da = a if isinstance(a, int) else int(a.shape[-1])
    db = b if isinstance(b, int) else int(b.shape[-1])
    if da != db:
        raise InputError(
            f"feature dimension mismatch: {names[0]} has d={da} but {names[1]} has d={db}; "
            "extract both sets with the same feature extractor and layer."
        )
    return da


def check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    """Options such as ``k``, ``splits`` or ``subsets`` must be integers of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)
