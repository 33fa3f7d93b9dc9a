"""The network an atlas reads: a module, its input convention, the layers to hook, its class names.

``resolve_model`` turns a CLI name into an :class:`AtlasModel`: a name registered with
:func:`register_atlas_model` (the zoo registers ``zoo-classifier``), ``random-vgg16``,
``torchvision:<arch>`` (weights ``default|random|PATH``, built by :mod:`genlens.features` so weights
are fetched and checked in one place) or ``pkg.module:factory`` (a callable returning an ``nn.Module``
fed floats in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genlens.errors import ConfigError
from genlens.features.shared_pass import Network
from genlens.io.preprocess import resize_uint8
from genlens.plugins import Registry, load_attr

#: Default layers for common families (mid to late stages; early layers see colour, late ones objects).
_DEFAULT_LAYERS: dict[str, tuple[str, ...]] = {
    "resnet": ("layer2", "layer3", "layer4"),
    "resnext": ("layer2", "layer3", "layer4"),
    "wide_resnet": ("layer2", "layer3", "layer4"),
    "vgg16": ("features.15", "features.22", "features.29"),
    "googlenet": ("inception3b", "inception4c", "inception5b"),
}


@dataclass
class AtlasModel:
    """A network plus how to feed it.

    ``to_input`` maps float images in [0, 1] at ``input_size`` to what ``module`` expects; ``classes``
    names the logits when the module's output is a ``(B, K)`` tensor of class scores.
    """

    module: nn.Module
    name: str
    input_size: tuple[int, int]
    to_input: Callable[[torch.Tensor], torch.Tensor]
    default_layers: tuple[str, ...]
    classes: tuple[str, ...] | None = None
    record: dict[str, Any] = field(default_factory=dict)

    def prepare(self, images: torch.Tensor, device: torch.device) -> torch.Tensor:
        """uint8 ``(B, 3, H, W)`` -> the module's input on ``device`` (the project resize policy)."""
        if tuple(images.shape[-2:]) != tuple(self.input_size):
            images = resize_uint8(images, self.input_size)
        return self.to_input(images.to(device=device, dtype=torch.float32) / 255.0)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "input_size": list(self.input_size), **self.record}


_MODELS = Registry("atlas model")


def register_atlas_model(name: str, factory: Callable[..., AtlasModel]) -> None:
    """Make ``resolve_model(name, ...)`` call ``factory(image_size=, input_size=, quick=, seed=, weights=)``."""
    _MODELS.register(name, factory)


def _normaliser(mean: Sequence[float], std: Sequence[float]) -> Callable[[torch.Tensor], torch.Tensor]:
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return lambda x: (x - m.to(x.device)) / s.to(x.device)


def _family_layers(arch: str) -> tuple[str, ...]:
    for prefix, layers in _DEFAULT_LAYERS.items():
        if arch.startswith(prefix):
            return layers
    return ()


def probe_spatial_layers(module: nn.Module, input_size: tuple[int, int], limit: int = 3) -> tuple[str, ...]:
    """The last ``limit`` top-level children whose output is a spatial map or a token sequence.

    The fallback default for models without a known layer set: a forward pass on zeros with hooks.
    """
    shapes: dict[str, int] = {}
    handles = [
        child.register_forward_hook(lambda _m, _i, out, name=name: shapes.__setitem__(name, _ndim(out)))
        for name, child in module.named_children()
    ]
    try:
        with torch.no_grad():
            module(torch.zeros(1, 3, *input_size, device=next(module.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    spatial = [name for name, ndim in shapes.items() if ndim in (3, 4)]
    return tuple(spatial[-limit:])


def _ndim(out: Any) -> int:
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.ndim if isinstance(out, torch.Tensor) else 0


def resolve_model(
    name: str,
    weights: str | Path = "default",
    image_size: tuple[int, int] = (32, 32),
    input_size: int | None = None,
    quick: bool = False,
    seed: int = 0,
) -> AtlasModel:
    """An :class:`AtlasModel` for ``name`` (see the module docstring)."""
    from genlens.features.torchvision_models import IMAGENET_MEAN, IMAGENET_STD, build_torchvision_model

    factory = _MODELS.get(name)
    if factory is not None:
        return factory(image_size=image_size, input_size=input_size, quick=quick, seed=seed, weights=weights)
    spec = torchvision_spec(name, weights)
    if spec is not None:
        arch, weights = spec
        module, record = build_torchvision_model(arch, weights, seed)
        size = (int(input_size),) * 2 if input_size else default_input_size(weights, image_size)
        layers = _family_layers(arch) or probe_spatial_layers(module, size)
        classes = _imagenet_classes(arch) if weights == "default" else None
        return AtlasModel(module.eval(), name, size, _normaliser(IMAGENET_MEAN, IMAGENET_STD),
                          layers, classes, {"arch": arch, **record})
    if ":" in name:
        module = _import_factory(name)
        size = (int(input_size), int(input_size)) if input_size else tuple(image_size)
        return AtlasModel(module.eval(), name, size, lambda x: x, probe_spatial_layers(module, size),
                          None, {"factory": name})
    registered = "".join(f"{n}, " for n in _MODELS.names())
    raise ConfigError(
        f"unknown atlas model {name!r}; use {registered}random-vgg16, torchvision:<arch> "
        "(with --weights default|random|PATH) or pkg.module:factory"
    )


def torchvision_spec(name: str, weights: str | Path = "default") -> tuple[str, str | Path] | None:
    """``(arch, weights)`` of ``random-vgg16`` and ``torchvision:<arch>``; ``None`` for other names
    (registered models, factories)."""
    if _MODELS.get(name) is not None or not (name == "random-vgg16" or name.startswith("torchvision:")):
        return None
    if name == "random-vgg16":
        return "vgg16", "random"
    arch = name.split(":", 2)[1]
    if not arch:
        raise ConfigError("torchvision model needs an architecture, e.g. torchvision:resnet50")
    return arch, weights


def shared_network(name: str, weights: str | Path, image_size: Sequence[int], input_size: int | None,
                   seed: int) -> tuple[Network, tuple[str, ...], bool] | None:
    """The network ``resolve_model`` builds for ``name``, its default layers and whether it has class
    logits, as a report's shared passes know it (:mod:`genlens.features.shared_pass`) -- without
    building it; ``None`` for models a shared pass cannot build (registered models, factories, a
    weights file) or without known default layers."""
    spec = torchvision_spec(name, weights)
    if spec is None or str(spec[1]) not in ("random", "default"):
        return None
    arch, weights = spec
    size = (int(input_size),) * 2 if input_size else default_input_size(weights, image_size)
    has_classes = weights == "default" and _imagenet_classes(arch) is not None
    return Network.of(arch, str(weights), seed, size), _family_layers(arch), has_classes


#: Sides a torchvision network reads by default: pretrained weights saw 224-px ImageNet crops; random
#: weights learned no scale, so they read images at their own size, clamped into this range (below
#: 32 px VGG's last block has no spatial map left; above 224 px the cost grows with no gain).
NATIVE_RANGE = (32, 224)
PRETRAINED_SIZE = 224


def default_input_size(weights: str | Path, image_size: Sequence[int]) -> tuple[int, int]:
    """The side(s) a torchvision network reads when none is given.

    A random network at its images' own size sees what it sees at 224 px at a fraction of the cost:
    a 64-px image costs 12x fewer FLOPs than its 224-px upsampling, which adds no information. Pretrained
    weights (``default`` or a state-dict path) keep the 224 px their training used."""
    if str(weights) != "random":
        return (PRETRAINED_SIZE, PRETRAINED_SIZE)
    low, high = NATIVE_RANGE
    height, width = int(image_size[0]), int(image_size[1])
    shrink = min(1.0, high / max(height, width))  # keeps the aspect ratio of large images
    return (max(low, round(height * shrink)), max(low, round(width * shrink)))


def _imagenet_classes(arch: str) -> tuple[str, ...] | None:
    import torchvision

    try:
        return tuple(torchvision.models.get_model_weights(arch).DEFAULT.meta["categories"])
    except (KeyError, ValueError, AttributeError):
        return None


def _import_factory(spec: str) -> nn.Module:
    factory = load_attr(spec, "atlas model factory")
    model = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{spec} returned {type(model).__name__}; it must return a torch.nn.Module")
    return model


def _learned_model(image_size: tuple[int, int], input_size: int | None = None, weights: str | Path = "default",
                   **_: Any) -> AtlasModel:
    """``learned`` (:mod:`genlens.features.learned`): an encoder trained on a real set, named by ``weights``."""
    from genlens.features.learned import BLOCKS, SIGNED, encoder_file

    encoder = encoder_file(weights)
    size = (int(input_size),) * 2 if input_size else (encoder.image_size or tuple(image_size))
    return AtlasModel(encoder, "learned", size, _normaliser(*SIGNED), BLOCKS[1:], None, dict(encoder.record))


register_atlas_model("learned", _learned_model)
