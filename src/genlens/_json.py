"""JSON output that never fails on numpy types and never writes NaN (non-finite floats become null)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genlens._fs import atomic_write_text


def json_safe(obj: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to plain JSON types; non-finite floats become None."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(json_safe(obj), indent=2, sort_keys=False) + "\n")
