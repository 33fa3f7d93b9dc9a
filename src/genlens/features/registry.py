"""Extractor names -> extractors: the one place a string like ``torchvision:resnet50:layer3`` is parsed.

Plugins add exact names with :func:`register_extractor` (the zoo registers ``zoo-classifier``);
registered names are looked up before the built-in patterns.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from genlens.errors import ConfigError
from genlens.features.base import FeatureExtractor
from genlens.plugins import Registry

#: Names accepted by :func:`get_extractor` (patterns shown with their placeholders).
EXTRACTOR_NAMES = (
    "pixels",
    "inception-v3-fid",
    "random-vgg16",
    "learned",
    "dinov2-vit{s,b,l,g}14",
    "clip-vit-{b32,b16,l14}",
    "torchvision:<arch>[:<layer>[,<layer>...]]",
    "torchscript:<path>",
    "precomputed",
)

_EXTRACTORS = Registry("feature extractor")


def register_extractor(name: str, factory: Callable[..., FeatureExtractor]) -> None:
    """Make ``get_extractor(name, device=..., **kwargs)`` call ``factory(device=..., **kwargs)``.

    A factory with an ``image_size`` parameter also gets the images' ``(height, width)``, for networks
    trained per image size.
    """
    _EXTRACTORS.register(name, factory)


def extractor_names() -> tuple[str, ...]:
    """The built-in patterns and every registered name."""
    return (*EXTRACTOR_NAMES, *_EXTRACTORS.names())


def get_extractor(
    name: str, device: str | torch.device | None = None, image_size: tuple[int, int] | None = None, **kwargs: Any
) -> FeatureExtractor:
    """Build the extractor called ``name``; ``kwargs`` go to its constructor (weights, dtype, spatial...).

    ``image_size`` is a hint for registered networks trained per image size; others ignore it.
    ``precomputed`` is not a network: read such features with
    :func:`~genlens.features.simple.load_precomputed` instead.
    """
    factory = _EXTRACTORS.get(name)
    if factory is not None:
        if image_size is not None and "image_size" in inspect.signature(factory).parameters:
            kwargs["image_size"] = tuple(image_size)
        return factory(device=device, **kwargs)
    if name == "pixels":
        from genlens.features.simple import PixelExtractor

        return PixelExtractor(device=device, **kwargs)
    if name == "inception-v3-fid":
        from genlens.features.inception import InceptionFID

        return InceptionFID(device=device, **kwargs)
    if name == "random-vgg16":
        from genlens.features.torchvision_models import random_vgg16

        return random_vgg16(device=device, **kwargs)
    if name == "learned":
        from genlens.features.learned import learned_extractor

        return learned_extractor(device=device, **kwargs)  # kwargs: real=<ImageSource> or weights=PATH
    if name.startswith("torchvision:"):
        from genlens.features.torchvision_models import torchvision_extractor

        _, arch, *rest = name.split(":", 2)
        if not arch:
            raise ConfigError("torchvision extractor needs an architecture, e.g. torchvision:resnet50")
        layers = rest[0] if rest else kwargs.pop("layers", None)
        return torchvision_extractor(arch, layers=layers, device=device, **kwargs)
    if name.startswith(("dinov2-", "clip-")):
        from genlens.features.hf_backbones import HFBackboneExtractor

        return HFBackboneExtractor(name, device=device, **kwargs)
    if name.startswith("torchscript:"):
        from genlens.features.simple import TorchScriptExtractor

        return TorchScriptExtractor(name.split(":", 1)[1], device=device, **kwargs)
    if name == "precomputed":
        raise ConfigError(
            "'precomputed' features are read from (n, d) .npy/.npz arrays with "
            "genlens.features.load_precomputed(path), not extracted by a network"
        )
    raise ConfigError(f"unknown feature extractor {name!r}; known: {', '.join(extractor_names())}")
