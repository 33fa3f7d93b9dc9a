"""Image inputs: every source yields uint8 RGB ``(B, 3, H, W)`` batches with a stable fingerprint."""

from __future__ import annotations

from genlens.io.arrays import ArraySource, NpySource
from genlens.io.base import ImageSource
from genlens.io.folder import FolderSource
from genlens.io.preprocess import Preprocess, resize_uint8, to_rgb
from genlens.io.sources import open_source
from genlens.io.subset import PrefixSource
from genlens.io.torch_sources import DatasetSource, GeneratorSource

__all__ = [
    "ArraySource",
    "DatasetSource",
    "FolderSource",
    "GeneratorSource",
    "ImageSource",
    "NpySource",
    "PrefixSource",
    "Preprocess",
    "open_source",
    "resize_uint8",
    "to_rgb",
]
