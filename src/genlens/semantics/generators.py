"""Loading a generator to invert: a built-in zoo DCGAN, or ``pkg.module:factory`` plus a checkpoint.

A factory returns an ``nn.Module`` mapping latents to images in ``[-1, 1]``; the checkpoint (a state
dict) is loaded with ``weights_only=True`` through :mod:`genlens.features.weights`. The latent size is
taken from ``latent_dim`` when given, else from the module's ``latent_dim`` attribute, else from its
first linear or (transposed) convolution layer.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from torch import nn

from genlens.errors import ConfigError
from genlens.semantics.registry import load_factory

ZOO_DCGAN = "zoo-dcgan"
_ZOO_PARAMS = {"quick": lambda v: v.lower() in ("1", "true", "yes"), "epochs": int, "seed": int, "size": int,
               "exclude_class": str, "epoch": int}


def load_generator(
    spec: str, checkpoint: str | Path | None = None, latent_dim: int | None = None
) -> tuple[nn.Module, tuple[int, ...]]:
    """The generator module (eval mode) and its latent shape (without the batch dimension)."""
    if spec == ZOO_DCGAN or spec.startswith(ZOO_DCGAN + "?"):
        return _zoo_dcgan(spec)
    factory = load_factory(spec)
    module = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(module, nn.Module):
        raise ConfigError(f"{spec!r} returned {type(module).__name__}, not a torch nn.Module generator")
    if checkpoint is not None:
        from genlens.features import weights

        weights.load_into(module, weights.load_state_dict(checkpoint), str(checkpoint))
    first = _first_layer_shape(module)
    dim = latent_dim or getattr(module, "latent_dim", None) or (first[0] if first else None)
    if dim is None:
        raise ConfigError(f"cannot tell the latent size of {spec!r}: pass --latent-dim")
    spatial = first is not None and len(first) == 3  # a convolutional first layer takes (d, 1, 1) latents
    return module.eval(), ((int(dim), 1, 1) if spatial else (int(dim),))


def _zoo_dcgan(spec: str) -> tuple[nn.Module, tuple[int, ...]]:
    from genlens.zoo.models import dcgan

    query = spec.partition("?")[2]
    options = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in _ZOO_PARAMS:
            raise ConfigError(f"unknown {ZOO_DCGAN} option {key!r}; options: {sorted(_ZOO_PARAMS)}")
        try:
            options[key] = _ZOO_PARAMS[key](value)
        except ValueError:
            raise ConfigError(f"{ZOO_DCGAN} option {key}={value!r} is not valid") from None
    epoch = options.pop("epoch", None)
    run = dcgan(**options)
    return run.generator(epoch), (run.latent_dim,)


def _first_layer_shape(module: nn.Module) -> tuple[int, ...] | None:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            return (layer.in_features,)
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            return (layer.in_channels, 1, 1)
    return None
