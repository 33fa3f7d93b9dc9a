"""One finiteness check for large arrays: a sum, not an ``n x d`` mask.

A NaN or an infinity anywhere makes a sum NaN or infinite, so a finite sum proves every value finite
in one multi-threaded pass with no allocation. Only when the sum is not finite (a bad value, or an
overflow of huge but finite values) is the exact element-wise check run. On a 1000 x 32 x 32 x 128
float64 feature map that is 0.1 s instead of 1.3 s and a 131 MB mask.
"""

from __future__ import annotations

import numpy as np
import torch


def all_finite(values: torch.Tensor | np.ndarray) -> bool:
    """Whether every element of a floating-point tensor or array is finite."""
    if isinstance(values, torch.Tensor):
        if not values.is_floating_point() or values.numel() == 0:
            return True
        return bool(torch.isfinite(values.sum())) or bool(torch.isfinite(values).all())
    values = np.asarray(values)
    if values.dtype.kind not in "fc" or values.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(values.sum())) or bool(np.isfinite(values).all())
