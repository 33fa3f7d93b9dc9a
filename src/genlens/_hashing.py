"""Stable content hashes for fingerprints and cache keys."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np


def stable_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same object always gives the same string."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def hash_json(obj: Any, length: int = 16) -> str:
    """Short SHA-256 hex digest of ``stable_json(obj)``."""
    return hashlib.sha256(stable_json(obj).encode()).hexdigest()[:length]


def hash_array(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (C order)."""
    h = hashlib.sha256()
    a = np.ascontiguousarray(array)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Full SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
