"""The one interface every image input satisfies.

An :class:`ImageSource` is a sized, re-iterable, random-access stream of uint8 RGB images as torch
tensors of shape ``(B, 3, H, W)``, all of one size. Random access (``read(start, stop)``) is what lets
the feature cache resume an interrupted extraction at the first unfinished chunk.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any

import torch


class ImageSource(abc.ABC):
    """Sized, re-iterable source of uint8 ``(B, 3, H, W)`` RGB batches with a stable fingerprint."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of images."""

    @property
    @abc.abstractmethod
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of every image this source yields."""

    @abc.abstractmethod
    def read(self, start: int, stop: int) -> torch.Tensor:
        """Images ``start`` (inclusive) to ``stop`` (exclusive) as uint8 ``(stop-start, 3, H, W)``."""

    @abc.abstractmethod
    def fingerprint(self) -> str:
        """A stable hex digest of the content (or the recipe that deterministically makes it)."""

    def describe(self) -> dict[str, Any]:
        """JSON-safe provenance: kind, location, count, size, value range; recorded in results."""
        return {
            "kind": type(self).__name__,
            "n": len(self),
            "image_size": list(self.image_size),
            "fingerprint": self.fingerprint(),
        }

    def name_of(self, index: int) -> str:
        """A name a user recognises for image ``index``: a file's path in a folder, else ``#index``."""
        return f"#{index}"

    def defaults(self) -> dict[str, str]:
        """Networks that suit these images when the user names none, by role (``features``,
        ``segmenter``, ``atlas_model``). Plain user images have none: genlens then uses generic
        networks and never attaches another world's class names to them."""
        return {}

    def batches(self, batch_size: int = 64, start: int = 0) -> Iterator[torch.Tensor]:
        """Iterate ``read`` in consecutive batches from ``start``."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        n = len(self)
        for lo in range(start, n, batch_size):
            yield self.read(lo, min(lo + batch_size, n))

    def read_all(self) -> torch.Tensor:
        """Every image at once; for sources small enough to hold in memory."""
        return self.read(0, len(self))
