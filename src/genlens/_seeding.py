"""Seeded, deterministic work that leaves the caller's random state as it was.

Every network genlens trains for the user (the zoo's models, the critic, the learned feature space)
must depend on its seed only, and must not shift what the caller's own ``torch.randn`` calls return
afterwards: the work runs on a fork of torch's RNG state (CPU and every CUDA device), seeded, with
deterministic kernels where torch has them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run the block on a fork of torch's RNG state (CPU and every visible CUDA device)."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        yield


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch and enable deterministic algorithms (warn-only) inside the block, on a forked RNG;
    both the RNG state and the determinism setting are restored afterwards."""
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    with preserved_rng():
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous, warn_only=previous_warn)
