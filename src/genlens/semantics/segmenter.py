"""The ``Segmenter`` protocol and the one place that runs a segmenter safely.

A segmenter is anything callable on a uint8 ``(B, 3, H, W)`` RGB torch batch that returns ``(B, H, W)``
integer class ids (tensor or array) and carries a ``classes`` list of names. Backbone-specific
normalisation (mean/std, BGR, resizing) lives *inside* each adapter, so the statistics never see a
``[-1, 1]`` vs ``[0, 1]`` ambiguity. :func:`segment_batch` checks what a (possibly user-written)
segmenter returns, so a wrong shape or an out-of-range id is a clear error instead of a silent
mis-count; :func:`segment_source` streams an :class:`~genlens.io.base.ImageSource` through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from genlens._memory import require
from genlens._progress import track
from genlens.errors import ConfigError, InputError
from genlens.io.base import ImageSource

#: Bytes per pixel of one batch that segmenting holds at once besides the segmenter itself: the uint8
#: images (3), the segmenter's ids and their checked int64 copy (16), the offset copy counted by
#: ``class_areas`` (8), and slack for the resize. The areas kept per image are a few floats.
LABEL_BYTES = 32


@runtime_checkable
class Segmenter(Protocol):
    """Callable ``uint8 (B, 3, H, W) -> int (B, H, W)`` class ids, with the class names in ``classes``."""

    classes: Sequence[str]

    def __call__(self, images: torch.Tensor) -> torch.Tensor | np.ndarray: ...


@dataclass
class CallableSegmenter:
    """Wrap any function ``uint8 batch -> class ids`` with its class names.

    ``ignore_index`` names a label that is not an object class (e.g. "unlabelled"); its pixels still count
    in the image area but the class is left out of the statistics.
    """

    fn: Callable[[torch.Tensor], Any]
    classes: Sequence[str]
    name: str = "callable"
    ignore_index: int | None = None

    def __call__(self, images: torch.Tensor) -> torch.Tensor | np.ndarray:
        return self.fn(images)


def as_segmenter(obj: Any, classes: Sequence[str] | None = None, name: str | None = None) -> Segmenter:
    """Accept a segmenter, a ``(callable, classes)`` pair, or a callable plus ``classes``."""
    if isinstance(obj, tuple) and len(obj) == 2 and callable(obj[0]):
        obj, classes = obj
    if callable(obj) and hasattr(obj, "classes") and classes is None:
        return obj  # type: ignore[return-value]
    if callable(obj) and classes is not None:
        return CallableSegmenter(obj, list(classes), name=name or getattr(obj, "__name__", "callable"))
    raise ConfigError(
        f"{obj!r} is not a segmenter: give a callable with a `classes` attribute, "
        "or a (callable, class_names) pair"
    )


def segmenter_name(segmenter: Segmenter) -> str:
    """A readable name for results: the adapter's ``name`` or the class name."""
    return str(getattr(segmenter, "name", type(segmenter).__name__))


def ignored_class(segmenter: Segmenter) -> int | None:
    """The segmenter's non-object label, if it declares one."""
    value = getattr(segmenter, "ignore_index", None)
    return None if value is None else int(value)


def segment_batch(segmenter: Segmenter, images: torch.Tensor) -> torch.Tensor:
    """Run ``segmenter`` on one uint8 batch and return checked int64 ``(B, H, W)`` ids on the CPU."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise InputError(
            f"segmenters take uint8 (B, 3, H, W) RGB batches, got {tuple(images.shape)} {images.dtype}"
        )
    with torch.no_grad():
        out = segmenter(images)
    labels = torch.as_tensor(np.asarray(out) if not isinstance(out, torch.Tensor) else out)
    expected = (images.shape[0], images.shape[2], images.shape[3])
    if tuple(labels.shape) != expected:
        raise InputError(
            f"segmenter {segmenter_name(segmenter)!r} returned shape {tuple(labels.shape)}, expected "
            f"{expected} (one class id per input pixel)"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InputError(
            f"segmenter {segmenter_name(segmenter)!r} returned {labels.dtype}; it must return integer class "
            "ids (take the argmax of the logits)"
        )
    labels = labels.to("cpu", torch.int64)
    n_classes = len(segmenter.classes)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise InputError(
            f"segmenter {segmenter_name(segmenter)!r} returned class ids in [{int(labels.min())}, "
            f"{int(labels.max())}] but declares {n_classes} classes"
        )
    return labels


def iter_segmentations(
    source: ImageSource,
    segmenter: Segmenter,
    batch_size: int = 64,
    size: tuple[int, int] | None = None,
    description: str = "segmenting",
    max_images: int | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)`` per batch (the first ``max_images``); resized to ``size`` when given."""
    from genlens.io.preprocess import resize_uint8

    n = len(source) if max_images is None else min(len(source), max_images)
    height, width = size or source.image_size
    batch = min(batch_size, n)
    require(LABEL_BYTES * batch * height * width, f"segmenting batches of {batch} images of {height}x{width}",
            "use a smaller --set semantics.batch_size")
    starts = range(0, n, batch_size)
    for lo in track(starts, description, total=len(starts)):
        images = source.read(lo, min(lo + batch_size, n))
        if size is not None and tuple(images.shape[-2:]) != tuple(size):
            images = resize_uint8(images, size)
        yield images, segment_batch(segmenter, images)


def class_areas(labels: torch.Tensor, n_classes: int) -> np.ndarray:
    """Per-image pixel-area fraction of each class: float64 ``(B, n_classes)``, rows sum to 1.

    One ``bincount`` over ``image_index * n_classes + label`` counts every image at once.
    """
    b = labels.shape[0]
    pixels = labels[0].numel() if b else 1
    flat = labels.reshape(b, -1) + torch.arange(b, device=labels.device).unsqueeze(1) * n_classes
    counts = torch.bincount(flat.reshape(-1), minlength=b * n_classes).reshape(b, n_classes)
    return counts.to(torch.float64).cpu().numpy() / pixels


def segment_source(
    source: ImageSource,
    segmenter: Segmenter,
    batch_size: int = 64,
    size: tuple[int, int] | None = None,
    description: str = "segmenting",
    max_images: int | None = None,
) -> np.ndarray:
    """Per-image class-area fractions ``(n, C)`` of a source (its first ``max_images``), in batches."""
    n_classes = len(segmenter.classes)
    parts = [
        class_areas(labels, n_classes)
        for _, labels in iter_segmentations(source, segmenter, batch_size, size, description, max_images)
    ]
    if not parts:
        raise InputError(f"image source {source.describe().get('kind', 'source')} is empty")
    return np.concatenate(parts, axis=0)
