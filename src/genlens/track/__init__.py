"""Tracking: every diagnostic over training steps and seeds, with regression and collapse events.

:class:`Tracker` fixes the reference once (real features, a pixel partition, real class areas, a
frozen activation-atlas map) and logs each step's diagnostics into a :class:`RunStore` (one SQLite
file, safe for concurrent writers). :func:`detect_events` flags steps at which a metric worsens
beyond the run's own noise and names the clusters, classes and atlas cells responsible; :func:`track_report` writes the report. ``TrackerCallback``
(PyTorch Lightning) is imported on first use so Lightning stays optional.
"""

from __future__ import annotations

from typing import Any

from genlens.track.events import Event, EventRule, detect_events, explain_change, worsening_scores
from genlens.track.measure import Measurer, se_metric
from genlens.track.reference import Reference, ReferenceConfig
from genlens.track.store import RunStore
from genlens.track.tracker import Tracker, reference_folder, sample_generator

__all__ = [
    "Event",
    "EventRule",
    "Measurer",
    "Reference",
    "ReferenceConfig",
    "RunStore",
    "TrackResult",
    "Tracker",
    "TrackerCallback",
    "detect_events",
    "explain_change",
    "reference_folder",
    "sample_generator",
    "se_metric",
    "track_report",
    "worsening_scores",
]


def __getattr__(name: str) -> Any:
    if name == "TrackerCallback":
        from genlens.track.lightning import TrackerCallback

        return TrackerCallback
    if name in ("TrackResult", "track_report"):
        from genlens.track import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
