"""Turn what a user hands us -- a CLI string, a path, an array, a dataset -- into an :class:`ImageSource`.

Spec strings: an existing folder (read recursively), a ``.npy``/``.npz`` file, or a string with a
scheme prefix that a plugin registered with :func:`register_source_scheme` (the zoo registers
``zoo:<name>?n=..``, its synthetic planted-defect world).
"""

from __future__ import annotations

from collections.abc import Callable
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
from genlens.plugins import Registry

__all__ = ["ArraySource", "DatasetSource", "FolderSource", "GeneratorSource", "NpySource", "open_source",
           "register_source_scheme"]

_SCHEMES = Registry("image source scheme")


def register_source_scheme(prefix: str, opener: Callable[[str], ImageSource]) -> None:
    """Make ``open_source("<prefix>...")`` return ``opener(spec)`` (``prefix`` ends with ``:``, e.g. ``zoo:``)."""
    _SCHEMES.register(prefix, opener)


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
    opener = _scheme_opener(text)
    if opener is not None:
        return opener(text)
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path, skip_bad=skip_bad)
    if path.suffix.lower() in (".npy", ".npz"):
        return NpySource(path, value_range=value_range)
    if not path.exists():
        raise InputError(f"no such file or folder: {text}. Give {_accepted()}.")
    raise InputError(f"{text} is a file genlens cannot read as images; give {_accepted()}")


def _accepted() -> str:
    """What ``open_source`` reads, registered schemes included, for error messages."""
    kinds = ["a folder of images", "a .npy/.npz array file", *(f"{prefix}<name>" for prefix in _SCHEMES.names())]
    return ", ".join(kinds[:-1]) + " or " + kinds[-1]


def _scheme_opener(text: str) -> Callable[[str], ImageSource] | None:
    """The opener registered for ``text``'s scheme prefix; plain paths (no ``:``) skip loading plugins."""
    if ":" not in text:
        return None
    return next((_SCHEMES.get(p) for p in _SCHEMES.names() if text.startswith(p)), None)
