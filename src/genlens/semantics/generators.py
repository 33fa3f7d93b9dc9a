"""Loading a generator to invert: a registered one (the zoo's ``zoo-dcgan``), or ``pkg.module:factory`` plus a checkpoint.

A factory returns an ``nn.Module`` mapping latents to images in ``[-1, 1]``; the checkpoint (a state
dict) is loaded with ``weights_only=True`` by :func:`genlens.plugins.load_state_dict`. The latent size is
taken from ``latent_dim`` when given, else from the module's ``latent_dim`` attribute, else from its
first linear or (transposed) convolution layer. Registered generators take options in the one spec
grammar, ``zoo-dcgan?epoch=3&quick=1``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from genlens.errors import ConfigError
from genlens.plugins import Registry, load_attr, load_state_dict

_GENERATORS = Registry("generator")


def register_generator(name: str, factory: Callable[[str], tuple[nn.Module, tuple[int, ...]]]) -> None:
    """Make ``load_generator("name?k=v&...")`` return ``factory(spec)``: a module and its latent shape.

    The factory reads its options from the whole spec with :func:`genlens.plugins.parse_spec`."""
    _GENERATORS.register(name, factory)


def load_generator(
    spec: str, checkpoint: str | Path | None = None, latent_dim: int | None = None
) -> tuple[nn.Module, tuple[int, ...]]:
    """The generator module (eval mode) and its latent shape (without the batch dimension)."""
    name = spec.partition("?")[0]
    registered = _GENERATORS.get(name)
    if registered is not None:
        if checkpoint is not None:
            raise ConfigError(f"a checkpoint applies to a pkg.module:factory generator, not to the registered {name}")
        return registered(spec)
    if ":" not in spec:
        known = "".join(f"{n}[?...], " for n in _GENERATORS.names())
        raise ConfigError(f"unknown generator {spec!r}; use {known}pkg.module:factory or file.py:factory")
    return _factory_generator(spec, checkpoint, latent_dim)


def _factory_generator(
    spec: str, checkpoint: str | Path | None, latent_dim: int | None
) -> tuple[nn.Module, tuple[int, ...]]:
    """The user's ``pkg.module:factory`` module with ``checkpoint`` loaded, and its latent shape."""
    from genlens.features.weights import load_into

    factory = load_attr(spec, "generator factory")
    module = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(module, nn.Module):
        raise ConfigError(f"{spec!r} returned {type(module).__name__}, not a torch nn.Module generator")
    if checkpoint is not None:
        load_into(module, load_state_dict(checkpoint), str(checkpoint))
    first = _first_layer_shape(module)
    dim = latent_dim or getattr(module, "latent_dim", None) or (first[0] if first else None)
    if dim is None:
        raise ConfigError(f"cannot tell the latent size of {spec!r}: pass --latent-dim")
    spatial = first is not None and len(first) == 3  # a convolutional first layer takes (d, 1, 1) latents
    return module.eval(), ((int(dim), 1, 1) if spatial else (int(dim),))


def _first_layer_shape(module: nn.Module) -> tuple[int, ...] | None:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            return (layer.in_features,)
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            return (layer.in_channels, 1, 1)
    return None
