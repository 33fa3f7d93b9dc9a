"""Where the zoo's reference models come from: shipped weights first, then the cache, then training.

A model is identified by its name and a JSON-able config (architecture, data, seed, epochs) hashed
into a key. Three places may hold its state dict, tried in order:

1. **Shipped** with genlens (``genlens/zoo/weights/``, listed in ``manifest.json`` with each file's
   SHA-256). These are the weights the tests and the demo use, so their verdicts do not depend on
   which CPU instruction set (or GPU) trained a model: GAN training amplifies the last bit of a
   vectorised sum into a different generator. ``genlens zoo train`` makes them.
2. **Cached** under ``<cache>/zoo/<name>-<key>.pt``: a model of another config, trained here once.
3. **Trained** now, then cached (written atomically; a file lock makes concurrent processes train once).

Every file is loaded with ``weights_only=True``; a shipped file whose SHA-256 does not match the
manifest is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from genlens._fs import (
    atomic_path,
    atomic_write_text,
    default_cache_dir,
    exclusive_lock,
)
from genlens._hashing import hash_json, sha256_file
from genlens.errors import GenlensError

M = TypeVar("M", bound=nn.Module)

#: Bump when training code changes in a way that changes the weights for the same config.
STORE_VERSION = 2

#: The folder of shipped weights inside the package, and its manifest.
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "genlens.zoo_weights"


def model_file(name: str, config: dict[str, Any]) -> str:
    """File name of the weights of ``name`` under ``config``: ``<name>-<hash of config>.pt``."""
    key = hash_json({"name": name, "config": config, "store_version": STORE_VERSION})
    return f"{name}-{key}.pt"


def model_path(name: str, config: dict[str, Any], cache_dir: str | Path | None = None) -> Path:
    """Where locally trained weights of ``name`` under ``config`` live in the cache (whether or not they exist)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / "zoo" / model_file(name, config)


def read_manifest(folder: str | Path = SHIPPED_DIR) -> dict[str, dict[str, Any]]:
    """``{file name: {"name", "config", "sha256", "bytes", ...}}`` of a weights folder (empty if none)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    if doc.get("format") != MANIFEST_FORMAT:
        raise GenlensError(f"{path} is not a genlens zoo weights manifest")
    return dict(doc["models"])


@lru_cache(maxsize=1)
def _shipped_manifest() -> dict[str, dict[str, Any]]:
    return read_manifest(SHIPPED_DIR)


def shipped_path(name: str, config: dict[str, Any]) -> Path | None:
    """The shipped weights file of ``name`` under ``config``, or ``None`` if genlens ships none."""
    file = model_file(name, config)
    return SHIPPED_DIR / file if file in _shipped_manifest() else None


def load_state(path: Path, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """A state dict from ``path`` (``weights_only``), after checking its SHA-256 when one is given."""
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise GenlensError(
                f"zoo weights {path} have SHA-256 {actual[:16]}..., not {sha256[:16]}... as the manifest says; "
                "the installation is damaged: reinstall genlens, or rebuild them with `genlens zoo train`"
            )
    return torch.load(path, map_location="cpu", weights_only=True)


def load_or_train(
    name: str,
    config: dict[str, Any],
    build: Callable[[], M],
    train: Callable[[M], None],
    cache_dir: str | Path | None = None,
    pretrained: bool = True,
) -> M:
    """Return ``build()`` with trained weights: shipped, else cached, else trained now and cached.

    ``pretrained=False`` ignores the shipped weights (``genlens zoo train`` uses it to remake them).
    ``train`` mutates the model in place. The returned model is in eval mode.
    """
    model = build()
    shipped = shipped_path(name, config) if pretrained else None
    if shipped is not None:
        model.load_state_dict(load_state(shipped, _shipped_manifest()[shipped.name]["sha256"]))
        return model.eval()
    path = model_path(name, config, cache_dir)
    with exclusive_lock(path):  # a second process waits for the first's training instead of repeating it
        if path.exists():
            model.load_state_dict(load_state(path))
        else:
            train(model)
            with atomic_path(path) as tmp:
                torch.save(model.state_dict(), tmp)
            atomic_write_text(path.with_suffix(".json"), json.dumps({"name": name, "config": config}, indent=1))
    return model.eval()

