"""Extractors without a built-in network: raw ``pixels``, a user's ``torchscript:<path>`` module, and
``precomputed`` feature arrays (:func:`load_precomputed`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlens._finite import all_finite
from genlens._hashing import sha256_file
from genlens.errors import InputError, WeightsError
from genlens.features.base import FeatureExtractor
from genlens.io.arrays import load_array_file, parse_value_range
from genlens.io.preprocess import Preprocess


def _size_pair(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class PixelExtractor(FeatureExtractor):
    """``pixels``: the image itself, optionally resized, as flattened floats in [0, 1] (``(B, 3*H*W)``)."""

    name = "pixels"
    outputs = ("pixels",)

    def __init__(self, size: int | tuple[int, int] | None = None, device: Any = None, dtype: Any = "float32"):
        super().__init__(Preprocess(size=_size_pair(size)), device=device, dtype=dtype)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"pixels": images.flatten(1).to(self.dtype) / 255.0}

    def weights_id(self) -> dict[str, Any]:
        return {"weights": "none"}


class PixelBlocks(FeatureExtractor):
    """Each ``block x block`` square of pixels as one site: a ``(3 * block², H / block, W / block)`` map.

    Space-to-depth, not pooling: every pixel value is kept (in ``[-1, 1]``, as regions scales pixels),
    only grouped, so a site still sees blur or noise inside its square. What lets the regions view
    cluster large images on a bounded grid of sites without a network. ``size``: resize the images to
    ``(H, W)`` first (the policy's PIL bicubic), which bounds the values per image as well.
    """

    name = "pixel-blocks"
    outputs = ("blocks",)

    def __init__(self, block: int, size: tuple[int, int] | None = None, device: Any = None, dtype: Any = "float32"):
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise InputError(f"pixel blocks need a side of at least 1 pixel, got {block!r}")
        super().__init__(Preprocess(size=_size_pair(size)), device=device, dtype=dtype)
        self.block = block

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        h, w = images.shape[-2:]
        if h % self.block or w % self.block:
            raise InputError(f"{h}x{w} images do not split into {self.block}x{self.block} pixel blocks; choose a "
                             "block side that divides both")
        scaled = images.to(self.dtype) / 127.5 - 1.0
        return {"blocks": torch.nn.functional.pixel_unshuffle(scaled, self.block)}

    def weights_id(self) -> dict[str, Any]:
        return {"weights": "none", "block": self.block}


class TorchScriptExtractor(FeatureExtractor):
    """``torchscript:<path>``: a TorchScript module fed float images in ``value_range`` (default [0, 1]).

    The module returns a tensor (output ``features``) or a dict of tensors (its keys, sorted). TorchScript
    archives hold code as well as weights, so load only files you trust.
    """

    def __init__(
        self,
        path: str | Path,
        input_size: int | tuple[int, int] | None = None,
        value_range: Any = (0.0, 1.0),
        device: Any = None,
        dtype: Any = "float32",
    ) -> None:
        super().__init__(Preprocess(size=_size_pair(input_size)), device=device, dtype=dtype)
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise WeightsError(f"TorchScript file not found: {self.path}")
        try:
            self.module = torch.jit.load(str(self.path), map_location=self.device)
        except Exception as err:  # a corrupt or non-TorchScript file
            raise WeightsError(f"cannot load {self.path} as TorchScript: {type(err).__name__}: {err}") from None
        self.module.eval().to(self.dtype)
        self.name = f"torchscript:{self.path}"
        self.value_range = parse_value_range(value_range) or (0.0, 1.0)
        self._sha = sha256_file(self.path)
        self.outputs = ("features",)
        if self.input_size is not None:
            probe = torch.zeros((1, 3, *self.input_size), dtype=torch.uint8, device=self.device)
            self.outputs = tuple(self._run(probe))

    def _run(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        low, high = self.value_range
        with torch.no_grad():
            out = self.module(images.to(self.dtype) / 255.0 * (high - low) + low)
        if isinstance(out, torch.Tensor):
            return {"features": out.flatten(1) if out.ndim > 2 and out.shape[2:].numel() == 1 else out}
        if isinstance(out, dict):
            return {str(k): out[k] for k in sorted(out)}
        raise WeightsError(f"{self.path} returned {type(out).__name__}; it must return a tensor or a dict of tensors")

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self._run(images)
        if set(out) != set(self.outputs):
            raise WeightsError(
                f"{self.path} returned outputs {sorted(out)}, expected {list(self.outputs)}; a module that returns "
                "a dict needs input_size= so genlens can read its output names up front"
            )
        return out

    def weights_id(self) -> dict[str, Any]:
        return {"weights_sha256": self._sha, "value_range": list(self.value_range)}


def load_precomputed(path: str | Path, key: str | None = None) -> np.ndarray:
    """``(n, d)`` features from a ``.npy`` file or an ``.npz`` (``key``, else ``features``, else its only array).

    This is what ``--features precomputed`` means: the arrays are the features, no network runs. Checked:
    two dimensions, a float or integer dtype, no NaN/Inf. float32 features stay float32, as extracted
    features are (each metric then works in the precision it documents: KID's and PRDC's screening in
    float32, sums in float64); anything else becomes float64.
    """
    array, _ = load_array_file(path, key, what="features")
    if array.ndim != 2:
        raise InputError(f"{path}: precomputed features must have shape (n, d), got {array.shape}")
    if array.dtype.kind not in "fiu":
        raise InputError(f"{path}: precomputed features must be numbers, got dtype {array.dtype}")
    features = np.asarray(array, dtype=np.float32 if array.dtype == np.float32 else np.float64)
    if not all_finite(features):
        bad = int(np.flatnonzero(~np.isfinite(features).all(axis=1))[0])
        raise InputError(f"{path}: precomputed features contain NaN or Inf (first in row {bad})")
    return features
