"""Train-once cache for the zoo's small reference models.

A model is identified by its name and a JSON-able config (architecture, data, seed, epochs); its
state dict is stored under ``<cache>/zoo/<name>-<hash>.pt`` after the first training, written
atomically and loaded back with ``weights_only=True``. Changing the config changes the hash, so a
stale model is never reused.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from genlens._fs import atomic_path, default_cache_dir
from genlens._hashing import hash_json

M = TypeVar("M", bound=nn.Module)

#: Bump when training code changes in a way that changes the weights for the same config.
STORE_VERSION = 1


def model_path(name: str, config: dict[str, Any], cache_dir: str | Path | None = None) -> Path:
    """Where the trained weights of ``name`` under ``config`` live (whether or not they exist yet)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hash_json({"name": name, "config": config, "store_version": STORE_VERSION})
    return root / "zoo" / f"{name}-{key}.pt"


def load_or_train(
    name: str,
    config: dict[str, Any],
    build: Callable[[], M],
    train: Callable[[M], None],
    cache_dir: str | Path | None = None,
) -> M:
    """Return ``build()`` with trained weights: loaded from the cache, else trained then cached.

    ``train`` mutates the model in place. The returned model is in eval mode.
    """
    path = model_path(name, config, cache_dir)
    model = build()
    with _exclusive(path):  # a second process waits for the first's training instead of repeating it
        if path.exists():
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        else:
            train(model)
            with atomic_path(path) as tmp:
                torch.save(model.state_dict(), tmp)
    return model.eval()


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
