"""The feature-extractor contract, one way for every network.

An extractor is called on a uint8 RGB batch ``(B, 3, H, W)`` (any device) and returns a dict that maps
each name in ``outputs`` to a float32 tensor on the extractor's device: ``(B, d)`` for pooled features,
``(B, C, h, w)`` for spatial maps. ``outputs[0]`` is the primary output (what ``dim`` describes and what
:func:`~genlens.features.cache.extract_features` returns by default). The extractor owns its
preprocessing (a :class:`~genlens.io.preprocess.Preprocess`: RGB, then resize to ``input_size`` by the
one policy), runs in eval mode under ``torch.no_grad``, computes in ``dtype`` (float32, or float64 when
batch-size independence matters -- see torchmetrics #1620) and returns float32.

``fingerprint()`` hashes ``describe()``: name, weights identity (file SHA-256 or seed), preprocessing,
dtype and outputs -- everything that changes the numbers, so it can key the feature cache.
"""

from __future__ import annotations

import abc
from typing import Any

import torch

from genlens._device import conv_layout, resolve_device
from genlens._hashing import hash_json
from genlens.errors import ConfigError, InputError
from genlens.io.preprocess import Preprocess

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"``/``"float64"`` (or the torch dtypes) -> torch dtype."""
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ConfigError(f"dtype must be 'float32' or 'float64', got {dtype!r}")


class FeatureExtractor(abc.ABC):
    """uint8 images -> named float32 feature tensors; see the module docstring for the contract."""

    name: str
    outputs: tuple[str, ...]

    def __init__(
        self,
        preprocess: Preprocess,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float32",
    ) -> None:
        self.preprocess = preprocess
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self._shapes: dict[str, tuple[int, ...]] | None = None

    @property
    def input_size(self) -> tuple[int, int] | None:
        """``(H, W)`` the network sees (images are resized to it), or ``None`` when sizes pass through."""
        return self.preprocess.size

    @abc.abstractmethod
    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Preprocessed uint8 images already on ``self.device`` -> named outputs (any float dtype)."""

    @abc.abstractmethod
    def weights_id(self) -> dict[str, Any]:
        """What identifies the weights: a file's SHA-256, a seed, or ``{"weights": "none"}``."""

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.run(self.prepare(images))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Check and preprocess a uint8 batch (resize, RGB) and move it to the device: the part of a call
        that reading the next batch can overlap with the network (see ``extract_features``)."""
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise InputError(
                f"{self.name} expects uint8 images of shape (B, C, H, W), got {images.dtype} {tuple(images.shape)}"
            )
        return self.preprocess.apply(images).to(self.device)

    def run(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network on a :meth:`prepare`-d batch: float32 outputs.

        The batch is laid out for fast convolutions (:func:`~genlens._device.conv_layout`): on the
        CPU that reaches the speed of a plain loop whose ``permute`` happened to give that layout."""
        with torch.no_grad():
            out = self.forward(conv_layout(batch))
        return {key: out[key].to(torch.float32) for key in self.outputs}

    def output_shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-image shape of each output, found by one probe forward pass (cached)."""
        if self._shapes is None:
            if self.input_size is None:
                raise ConfigError(f"{self.name} has no fixed input size; its output shapes depend on the images")
            probe = torch.zeros((1, 3, *self.input_size), dtype=torch.uint8)
            self._shapes = {key: tuple(value.shape[1:]) for key, value in self(probe).items()}
        return self._shapes

    @property
    def dim(self) -> int:
        """Flattened size of the primary output per image."""
        shape = self.output_shapes()[self.outputs[0]]
        return int(torch.Size(shape).numel())

    def describe(self) -> dict[str, Any]:
        """JSON-safe provenance, recorded beside every number computed from these features."""
        return {
            "name": self.name,
            "outputs": list(self.outputs),
            **self.weights_id(),
            "preprocess": self.preprocess.to_dict(),
            "dtype": str(self.dtype).replace("torch.", ""),
        }

    def fingerprint(self) -> str:
        """Hash of :meth:`describe`: equal fingerprints mean equal features for equal images."""
        return hash_json(self.describe(), 32)
