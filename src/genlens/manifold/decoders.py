"""Turn a decoder spec from the command line into a callable.

``pkg.module:factory`` (or ``path/to/file.py:factory``) imports that module -- running its code is
what the user asked for -- and calls ``factory()``; an ``nn.Module`` result may get weights from
``--checkpoint`` (loaded with ``weights_only=True``). ``zoo-vae:beta=4[,latent_dim=10,quick=1,seed=0]``
names the built-in beta-VAE on digits.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlens.errors import ConfigError, InputError
from genlens.manifold.jacobian import Decoder

ZOO_VAE = "zoo-vae"


@dataclass(frozen=True)
class LoadedDecoder:
    """A decoder callable, its latent size when known, and a description for provenance."""

    decoder: Decoder
    latent_dim: int | None
    describe: dict[str, Any]


def load_decoder(spec: str, checkpoint: str | Path | None = None, quick: bool = False) -> LoadedDecoder:
    """Resolve ``spec`` (see module docstring). ``quick`` picks the small zoo-VAE by default."""
    if spec.startswith(ZOO_VAE):
        if checkpoint is not None:
            raise ConfigError("--checkpoint applies to a --decoder factory, not to the built-in zoo-vae")
        return _zoo_vae(spec, quick)
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"decoder {spec!r} is not 'pkg.module:factory', 'file.py:factory' or 'zoo-vae:beta=...'"
        )
    factory = getattr(_import(module_name), attr, None)
    if factory is None or not callable(factory):
        raise ConfigError(f"{module_name} has no callable {attr!r}; it should return the decoder")
    obj = factory()
    if checkpoint is not None:
        if not isinstance(obj, torch.nn.Module):
            raise ConfigError(f"--checkpoint needs {spec} to return an nn.Module, got {type(obj).__name__}")
        obj.load_state_dict(_read_state_dict(Path(checkpoint)))
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


def _import(module_name: str) -> Any:
    if module_name.endswith(".py"):
        path = Path(module_name).expanduser()
        if not path.is_file():
            raise InputError(f"decoder file {path} does not exist")
        spec = importlib.util.spec_from_file_location(f"genlens_user_decoder_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[spec.name] = module  # type: ignore[union-attr]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ConfigError(
            f"cannot import {module_name!r} ({err}); is it installed or on PYTHONPATH?"
        ) from err


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any unpickling failure means the same to the user
        raise InputError(f"cannot read checkpoint {path} as plain tensors (weights_only=True): {err}") from err
    for key in ("state_dict", "model", "decoder"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise InputError(f"checkpoint {path} does not hold a state dict")
    return state


def _zoo_vae(spec: str, quick: bool) -> LoadedDecoder:
    from genlens.zoo.models.digits_vae import vae

    params: dict[str, str] = {}
    _, _, tail = spec.partition(":")
    for item in filter(None, tail.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"{spec!r}: expected key=value items, e.g. zoo-vae:beta=4,latent_dim=10")
        params[key.strip()] = value.strip()
    unknown = set(params) - {"beta", "latent_dim", "quick", "seed"}
    if unknown:
        raise ConfigError(f"{spec!r}: unknown option(s) {sorted(unknown)}; use beta, latent_dim, quick, seed")
    try:
        beta = float(params.get("beta", "1"))
        latent_dim = int(params.get("latent_dim", "10"))
        seed = int(params.get("seed", "0"))
        quick = params.get("quick", "1" if quick else "0").lower() in ("1", "true", "yes")
    except ValueError as err:
        raise ConfigError(f"{spec!r}: {err}") from err
    model = vae(beta, latent_dim=latent_dim, quick=quick, seed=seed)
    return LoadedDecoder(
        decoder=model.decode,
        latent_dim=latent_dim,
        describe={"decoder": spec, "beta": beta, "latent_dim": latent_dim, "quick": quick, "seed": seed},
    )
