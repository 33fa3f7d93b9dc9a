"""Turn a decoder spec from the command line into a callable.

``pkg.module:factory`` (or ``path/to/file.py:factory``) imports that module -- running its code is
what the user asked for -- and calls ``factory()``; an ``nn.Module`` result may get weights from
``--checkpoint`` (loaded with ``weights_only=True``). Other names are looked up among the decoders
plugins register with :func:`register_decoder`, with options in the one spec grammar
``name?key=value&...`` -- e.g. the zoo's ``zoo-vae?beta=4&latent_dim=10&quick=1&seed=0``, the
built-in beta-VAE on digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlens.errors import ConfigError
from genlens.manifold.jacobian import Decoder
from genlens.plugins import Registry, load_attr, load_state_dict

_DECODERS = Registry("decoder")


@dataclass(frozen=True)
class LoadedDecoder:
    """A decoder callable, its latent size when known, and a description for provenance."""

    decoder: Decoder
    latent_dim: int | None
    describe: dict[str, Any]


def register_decoder(name: str, factory: Callable[..., LoadedDecoder]) -> None:
    """Make ``load_decoder("name?k=v&...")`` return ``factory(spec, quick=quick)``.

    The factory reads its options from the whole spec with :func:`genlens.plugins.parse_spec`."""
    _DECODERS.register(name, factory)


def load_decoder(spec: str, checkpoint: str | Path | None = None, quick: bool = False) -> LoadedDecoder:
    """Resolve ``spec`` (see module docstring). ``quick`` is a hint for registered decoders that train."""
    name = spec.partition("?")[0]
    factory = _DECODERS.get(name)
    if factory is not None:
        if checkpoint is not None:
            raise ConfigError(f"--checkpoint applies to a pkg.module:factory decoder, not to the registered {name}")
        return factory(spec, quick=quick)
    head = name.partition(":")[0]
    if head in _DECODERS.names():  # 'zoo-vae:beta=4', the grammar before the one spec grammar
        raise ConfigError(f"decoder {spec!r}: options follow '?', as in {head}?key=value&key=value")
    if ":" not in spec:
        known = ", ".join(f"{n}[?key=value&...]" for n in _DECODERS.names()) or "none"
        raise ConfigError(f"decoder {spec!r} is not 'pkg.module:factory', 'file.py:factory' or a registered decoder "
                          f"({known})")
    return _factory_decoder(spec, checkpoint)


def _factory_decoder(spec: str, checkpoint: str | Path | None) -> LoadedDecoder:
    """Call the user's ``pkg.module:factory``, load ``checkpoint`` into it, and find its decode."""
    factory = load_attr(spec, "decoder")
    if not callable(factory):
        raise ConfigError(f"decoder {spec!r} is not callable; it should return the decoder")
    obj = factory()
    if checkpoint is not None:
        if not isinstance(obj, torch.nn.Module):
            raise ConfigError(f"--checkpoint needs {spec} to return an nn.Module, got {type(obj).__name__}")
        obj.load_state_dict(load_state_dict(checkpoint))
    if isinstance(obj, torch.nn.Module):
        obj.eval()
    decoder = obj.decode if callable(getattr(obj, "decode", None)) else obj
    if not callable(decoder):
        raise ConfigError(f"{spec} returned a {type(obj).__name__}, which is not callable")
    latent = getattr(obj, "latent_dim", None)
    return LoadedDecoder(
        decoder=decoder,
        latent_dim=int(latent) if isinstance(latent, int) else None,
        describe={"decoder": spec, "checkpoint": str(checkpoint) if checkpoint else None},
    )
