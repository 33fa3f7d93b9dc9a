"""Quiet work-arounds for torch internals that genlens users should not have to read about."""

from __future__ import annotations

import warnings


def load_jvp_decompositions() -> None:
    """Import torch's forward-mode decompositions quietly, once.

    ``torch.func.jvp`` imports them on first use, and that import calls the deprecated
    ``torch.jit.script``: a FutureWarning about torch's own code, printed in the middle of our
    progress output. Importing the module first under a filter keeps the warning out.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        import torch._decomp.decompositions_for_jvp  # noqa: F401
