"""The one preprocessing policy: how images become uint8 RGB of a given size.

Every resize in genlens goes through :func:`resize_uint8`: PIL bicubic on uint8 images. PIL's resampling
filters widen their support when downsampling, so they antialias; torch's bilinear/bicubic without
``antialias`` alias, and clean-fid showed that the choice of resizer alone moves FID by several points.
One policy, recorded in every result (:meth:`Preprocess.to_dict`), keeps numbers comparable.

Channel rule (also what torchvision's ``ImageFolder`` loader does, via PIL ``convert("RGB")``):
one channel (grayscale) is replicated to three; a fourth channel (alpha) is dropped, not composited.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from genlens.errors import InputError

RESIZE_POLICY = "PIL bicubic (antialiased) on uint8"
RGB_POLICY = "grayscale -> replicated to 3 channels; RGBA -> alpha dropped"


def to_rgb(batch: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` with C in {1, 3, 4} -> ``(B, 3, H, W)`` by the channel rule above."""
    if batch.ndim != 4:
        raise InputError(f"expected images of shape (B, C, H, W), got shape {tuple(batch.shape)}")
    channels = batch.shape[1]
    if channels == 3:
        return batch
    if channels == 1:
        return batch.expand(-1, 3, -1, -1).contiguous()
    if channels == 4:
        return batch[:, :3].contiguous()
    raise InputError(
        f"images have {channels} channels; genlens reads 1 (grayscale), 3 (RGB) or 4 (RGBA) channels"
    )


_MAX_THREADS = 16
_EXECUTOR: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, _MAX_THREADS), thread_name_prefix="resize")
    return _EXECUTOR


def _resize_hwc(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """One ``(H, W, C)`` uint8 image through PIL bicubic; channels other than 1/3/4 band by band."""
    if image.shape[2] in (1, 3, 4):
        pil = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
        return np.asarray(pil.resize((width, height), Image.Resampling.BICUBIC)).reshape(height, width, -1)
    bands = [
        np.asarray(Image.fromarray(np.ascontiguousarray(band)).resize((width, height), Image.Resampling.BICUBIC))
        for band in np.moveaxis(image, 2, 0)
    ]
    return np.stack(bands, axis=-1)


def resize_uint8(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize uint8 ``(B, C, H, W)`` images to ``size = (H, W)`` with PIL bicubic, one image at a time.

    Returns the input unchanged when it already has that size, so the policy costs nothing then.
    """
    if batch.dtype != torch.uint8:
        raise InputError(f"resize_uint8 expects uint8 images, got {batch.dtype}")
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise InputError(f"resize target must be positive, got {size}")
    if tuple(batch.shape[-2:]) == (height, width):
        return batch
    array = batch.detach().cpu().permute(0, 2, 3, 1).numpy()
    out = np.empty((array.shape[0], height, width, array.shape[3]), dtype=np.uint8)

    def resize_one(i: int) -> None:
        out[i] = _resize_hwc(array[i], height, width)

    # Pillow releases the GIL while resampling, so threads scale with cores on large batches.
    workers = min(len(array) // 8, os.cpu_count() or 1, _MAX_THREADS)
    if workers > 1:
        list(_executor().map(resize_one, range(len(array))))
    else:
        for i in range(len(array)):
            resize_one(i)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous().to(batch.device)


@dataclass(frozen=True)
class Preprocess:
    """What happens to uint8 images before a network sees them: RGB conversion, then an optional resize."""

    size: tuple[int, int] | None = None
    rgb: bool = True

    def __post_init__(self) -> None:
        if self.size is not None:
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    def apply(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, C, H, W)`` -> uint8 ``(B, 3 or C, *size)``."""
        if batch.dtype != torch.uint8:
            raise InputError(f"Preprocess.apply expects uint8 images, got {batch.dtype}")
        if self.rgb:
            batch = to_rgb(batch)
        if self.size is not None:
            batch = resize_uint8(batch, self.size)
        return batch

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the policy, stored beside every number it influenced."""
        return {
            "size": list(self.size) if self.size is not None else None,
            "resize": RESIZE_POLICY if self.size is not None else "none",
            "rgb": RGB_POLICY if self.rgb else "none",
        }
