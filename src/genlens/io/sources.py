"""Turn what a user hands us -- a CLI string, a path, an array, a dataset -- into an :class:`ImageSource`.

Spec strings: an existing folder (read recursively), a ``.npy``/``.npz`` file, or ``zoo:<name>?n=..``
(the synthetic planted-defect world, delegated to :func:`genlens.zoo.sources.open_zoo_spec`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from genlens.errors import InputError
from genlens.io.arrays import ArraySource, NpySource
from genlens.io.base import ImageSource
from genlens.io.folder import FolderSource
from genlens.io.torch_sources import DatasetSource, GeneratorSource

__all__ = ["ArraySource", "DatasetSource", "FolderSource", "GeneratorSource", "NpySource", "open_source"]


def open_source(spec: Any, skip_bad: bool = False, value_range: Any = None) -> ImageSource:
    """An :class:`ImageSource` for ``spec``: a source, a path or spec string, an array/tensor or a Dataset."""
    if isinstance(spec, ImageSource):
        return spec
    if isinstance(spec, (np.ndarray, torch.Tensor)):
        return ArraySource(spec, value_range=value_range)
    if isinstance(spec, (Dataset, DataLoader)):
        return DatasetSource(spec, value_range=value_range)
    if not isinstance(spec, (str, Path)):
        raise InputError(f"cannot read images from a {type(spec).__name__}")
    text = str(spec)
    if text.startswith("zoo:"):
        from genlens.zoo.sources import open_zoo_spec  # the zoo is optional weight; import on demand

        return open_zoo_spec(text)
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path, skip_bad=skip_bad)
    if path.suffix.lower() in (".npy", ".npz"):
        return NpySource(path, value_range=value_range)
    if not path.exists():
        raise InputError(
            f"no such file or folder: {text}. Give a folder of images, a .npy/.npz array file, or zoo:<name>."
        )
    raise InputError(f"{text} is a file genlens cannot read as images; give a folder, a .npy/.npz file or zoo:<name>")
