"""Test-session settings: offline, quiet, one torch thread per worker, a shared zoo-model cache.

Trained zoo models are cached under ``.genlens-cache/test`` in the checkout, so within one run (and
across local runs) each small model is trained once; a fresh clone trains them afresh.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("GENLENS_CACHE", str(REPO / ".genlens-cache" / "test"))
os.environ["GENLENS_OFFLINE"] = "1"
os.environ["GENLENS_QUIET"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)


@pytest.fixture
def rng() -> "np.random.Generator":  # noqa: F821
    import numpy as np

    return np.random.default_rng(0)
