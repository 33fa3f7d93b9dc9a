"""Quiet work-arounds for torch internals that genlens users should not have to read about."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


def load_jvp_decompositions() -> None:
    """Import torch's forward-mode decompositions quietly, once.

    ``torch.func.jvp`` imports them on first use, and that import calls the deprecated
    ``torch.jit.script``: a FutureWarning about torch's own code, printed in the middle of our
    progress output. Importing the module first under a filter keeps the warning out.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        import torch._decomp.decompositions_for_jvp  # noqa: F401


@contextlib.contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Restore torch's intra-op thread count after the block.

    pynndescent (inside UMAP) sets OpenMP's thread count, which torch shares: after one atlas layout a
    process that asked for one torch thread silently ran with all cores, so later results depended
    on whether an atlas had run before (a zoo DCGAN trained after one got other weights).
    """
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
