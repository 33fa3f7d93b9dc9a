"""The first ``n`` images of a source, as a source of its own (the CLI's ``--n``)."""

from __future__ import annotations

from typing import Any

import torch

from genlens._hashing import hash_json
from genlens.io.base import ImageSource


class PrefixSource(ImageSource):
    """The first ``n`` images of another source (``--n``); its fingerprint depends on both."""

    def __init__(self, source: ImageSource, n: int) -> None:
        self.source, self.n = source, min(int(n), len(source))

    def __len__(self) -> int:
        return self.n

    @property
    def image_size(self) -> tuple[int, int]:
        return self.source.image_size

    def read(self, start: int, stop: int) -> torch.Tensor:
        return self.source.read(max(0, start), min(stop, self.n))

    def fingerprint(self) -> str:
        return hash_json({"prefix_of": self.source.fingerprint(), "n": self.n}, 32)

    def defaults(self) -> dict[str, str]:
        return self.source.defaults()

    def name_of(self, index: int) -> str:
        return self.source.name_of(index)

    def describe(self) -> dict[str, Any]:
        return {**self.source.describe(), "n": self.n, "n_available": len(self.source), "fingerprint": self.fingerprint()}
