"""Registry of diagnostics that ``genlens report`` runs on a (real, fake) pair.

Each diagnostic is a module exposing ``KEY``, ``TITLE``, ``applies(ctx) -> str | None`` (``None`` when
it applies, else the reason it does not) and ``run(ctx) -> Section``. The report imports the modules
listed in :data:`DIAGNOSTIC_MODULES` in order; a module that is missing or raises is reported as a
failed section, never dropped.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from genlens.io.base import ImageSource

#: Diagnostic modules in report order.
DIAGNOSTIC_MODULES: tuple[str, ...] = (
    "genlens.metrics.diagnostic",
    "genlens.regions.diagnostic",
    "genlens.semantics.diagnostic",
    "genlens.manifold.diagnostic",
    "genlens.atlas.diagnostic",
)


@dataclass
class ReportContext:
    """Everything a diagnostic may use. ``options[key]`` holds per-diagnostic settings."""

    real: ImageSource
    fake: ImageSource
    out_dir: Path
    cache_dir: Path | None = None
    device: str = "cpu"
    seed: int = 0
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def option(self, key: str, name: str, default: Any = None) -> Any:
        """``options[key][name]`` or ``default``."""
        return self.options.get(key, {}).get(name, default)


def load_diagnostics() -> list[tuple[str, ModuleType | Exception]]:
    """Import every registered diagnostic; an import failure is returned, not raised."""
    loaded: list[tuple[str, ModuleType | Exception]] = []
    for name in DIAGNOSTIC_MODULES:
        try:
            loaded.append((name, importlib.import_module(name)))
        except ModuleNotFoundError as err:
            if err.name == name:  # the diagnostic itself is not built (yet): skip silently
                continue
            loaded.append((name, err))
        except Exception as err:  # noqa: BLE001 -- reported as a failed section
            loaded.append((name, err))
    return loaded
