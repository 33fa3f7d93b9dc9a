"""Base for metric results: frozen, JSON-safe via ``to_dict()``, and ``float(result)`` gives the headline.

``float()`` lets any metric plug into :func:`genlens.metrics.bootstrap_ci` or a plain comparison
without knowing which field holds the score.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from genlens._json import json_safe


class MetricResult:
    """Mixin for the frozen result dataclasses of this package."""

    headline: ClassVar[str] = "value"

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON types (non-finite floats become ``None``)."""
        return json_safe(dataclasses.asdict(self))  # type: ignore[call-overload]

    def __float__(self) -> float:
        return float(getattr(self, self.headline))
