"""The tracking result and report: series and events from a store -> report.html + results.json.

``results.json`` is the report's versioned document plus two top-level keys for scripts:
``series`` (``{run: {metric: [[step, value], ...]}}``) and ``events`` (a list of ``{run, step,
metric, change, score, causes}``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genlens._json import json_safe, write_json
from genlens.plotting import metric_panels, run_page
from genlens.track.events import Event, EventRule, detect_events
from genlens.track.store import RunStore, Series
from genlens.views import Figure, Section, Table, get_view


@dataclass(frozen=True)
class TrackResult:
    """Every logged series, the flagged events, and what the reference was (when known)."""

    series: Series
    events: tuple[Event, ...]
    reference: dict[str, Any] = field(default_factory=dict)
    rule: EventRule = field(default_factory=EventRule)
    directions: dict[str, bool | None] = field(default_factory=dict)
    references: dict[str, Any] = field(default_factory=dict)  # each tracked view's fitted reference
    arrays: Callable[[str, str], dict[int, np.ndarray]] | None = None  # the store's array reader
    highlight: tuple[str, ...] = ()  # runs drawn as their own lines, outside the band (e.g. a planted failure)

    @classmethod
    def from_store(cls, store: str | os.PathLike[str] | RunStore, rule: EventRule | None = None,
                   highlight: tuple[str, ...] = ()) -> TrackResult:
        """Read a store (and the reference saved beside it, if any) and detect events."""
        from genlens.track.reference import Reference
        from genlens.track.tracker import reference_folder

        store = store if isinstance(store, RunStore) else RunStore(store)
        folder = reference_folder(store.path)
        ref = Reference.load(folder) if (folder / "reference.json").exists() else None
        rule = rule or EventRule()
        series = store.series()
        directions = store.directions()
        events = detect_events(series, rule, directions=directions, reference=ref, arrays=store.arrays)
        return cls(series, tuple(events), ref.describe() if ref is not None else {}, rule, directions,
                   dict(ref.fitted) if ref is not None else {}, store.arrays, tuple(highlight))

    @property
    def runs(self) -> list[str]:
        return sorted(self.series)

    @property
    def metrics(self) -> list[str]:
        return sorted({m for per in self.series.values() for m in per})

    def headline(self) -> list[str]:
        """Metrics with a direction (the ones events are judged on), grouped by view in registry order."""
        judged = [m for m in self.metrics if self.directions.get(m) is not None]
        order = {key: i for i, key in enumerate(self.reference.get("config", {}).get("diagnostics", []))}
        return sorted(judged, key=lambda m: (order.get(m.split("/")[0], len(order)), m))

    def product_correlation(self) -> dict[str, float]:
        """Per run: Pearson correlation over steps of the image CMS and the product of cluster CMS."""
        from genlens.regions.tracking import product_correlation

        return product_correlation(self.series)

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "runs": self.runs,
            "series": {r: {m: [[s, v] for s, v in pts] for m, pts in per.items()} for r, per in self.series.items()},
            "events": [e.to_dict() for e in self.events],
            "product_correlation": self.product_correlation(),
            "rule": {"threshold": self.rule.threshold, "min_history": self.rule.min_history},
            "directions": self.directions,
            "reference": self.reference,
        })

    def sections(self) -> list[Section]:
        """Report sections: events, standard metrics, each view's own sections, one page per run."""
        secs = [self._events_section()]
        std = [m for m in self.headline() if m.startswith("metrics/")]
        if std:
            secs.append(Section("track-metrics", "Standard metrics over steps",
                                f"{len(std)} metrics over {len(self.runs)} run(s); line = mean over runs, band = min-max.",
                                (Figure.from_matplotlib("series", metric_panels(
                                    self.series, std, self.events, highlight=self.highlight,
                                    directions=self.directions)),)))
        for key in self.reference.get("config", {}).get("diagnostics", []):
            view = get_view(key)
            extra = view.track_sections(self)
            own = [m for m in self.headline() if m.split("/")[0] == key]
            if not extra and own and key != "metrics":  # a view without figures of its own: its judged numbers
                extra = [Section(f"track-{key}", f"{view.title} over steps",
                                 f"{len(own)} number(s) over {len(self.runs)} run(s); line = mean over runs, band = min-max.",
                                 (Figure.from_matplotlib("series", metric_panels(
                                     self.series, own, self.events, highlight=self.highlight,
                                     directions=self.directions)),))]
            secs += extra
        pages = tuple(Figure.from_matplotlib(f"run-{i}", run_page(self.series, run, self.headline(), self.events,
                                                                  self.directions), caption=f"run {run}")
                      for i, run in enumerate(self.runs))
        if pages and self.headline():
            secs.append(Section("track-runs", "One page per run", "Every headline metric of each run; red dotted lines mark events.", pages))
        return secs

    def _events_section(self) -> Section:
        ranked = sorted(self.events, key=lambda e: -e.score)
        rows = tuple(
            (e.run, e.step, e.metric, f"{e.direction} by {abs(e.change):.4g}", round(e.score, 1),
             ", ".join(f"{c['name']} ({100 * c['share']:.0f}%)" for c in e.causes) or "-")
            for e in ranked
        )
        summary = (f"{len(self.events)} event(s) in {len({e.run for e in self.events})} run(s); strongest: "
                   f"{ranked[0].describe()}" if ranked else "No step worsened beyond its noise.")
        notes = (f"an event is a worsening (in the metric's own direction) more than {self.rule.threshold:g} noise units "
                 "beyond the run's usual change; the noise is the larger of the metric's measurement error at both "
                 "steps (bootstrap over the generated images) and the spread of the run's earlier changes "
                 f"(1.4826 x MAD, from at least {self.rule.min_history} of them); strongest first",)
        return Section("track-events", "Flagged events", summary,
                       table=Table(("run", "step", "metric", "change", "score", "causes"), rows),
                       data={"events": [e.to_dict() for e in ranked]}, notes=notes)


def track_report(store: str | os.PathLike[str] | RunStore, out_dir: str | os.PathLike[str],
                 rule: EventRule | None = None, title: str = "genlens tracking report",
                 protect: tuple[str | os.PathLike[str], ...] = (), highlight: tuple[str, ...] = ()) -> TrackResult:
    """Write ``out_dir/report.html``, ``results.json`` (with top-level ``series`` and ``events``) and figures.

    ``highlight`` runs are drawn as their own lines instead of joining the band over runs."""
    from genlens.report import write_report

    result = TrackResult.from_store(store, rule, highlight)
    store_path = store.path if isinstance(store, RunStore) else Path(store)
    write_report(result.sections(), out_dir, title=title, inputs={"store": {"path": str(store_path), "runs": result.runs}},
                 protect=protect)
    path = Path(out_dir) / "results.json"
    doc = json.loads(path.read_text())
    extra = result.to_dict()
    doc.update({"series": extra["series"], "events": extra["events"], "reference": extra["reference"]})
    write_json(path, doc)
    return result
