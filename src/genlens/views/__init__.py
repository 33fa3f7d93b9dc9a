"""The view core: the protocol every view implements, the registry, and the report's section type.

See :mod:`genlens.views.base` for the protocol and ``docs/architecture.md`` for the picture.
"""

from __future__ import annotations

from genlens.views.base import Measurement, Measurements, RunContext, StepEvidence, View
from genlens.views.registry import get_view, register_view, views
from genlens.views.section import Figure, Finding, Section, Table, ranked

__all__ = [
    "Figure",
    "Finding",
    "Measurement",
    "Measurements",
    "RunContext",
    "Section",
    "StepEvidence",
    "Table",
    "View",
    "get_view",
    "register_view",
    "ranked",
    "views",
]
