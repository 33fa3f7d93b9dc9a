"""The tracking result and report: series and events from a store -> report.html + results.json.

``results.json`` is the report's versioned document plus two top-level keys for scripts:
``series`` (``{run: {metric: [[step, value], ...]}}``) and ``events`` (a list of ``{run, step,
metric, change, score, causes}``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genlens._json import json_safe, write_json
from genlens.report.section import Figure, Section, Table
from genlens.track.atlas import AtlasReference, CellSeries, cell_series, js_layer, js_metric
from genlens.track.events import Event, EventRule, detect_events
from genlens.track.measure import HIGHER_IS_BETTER, higher_is_better
from genlens.track.store import RunStore, Series


def evidence(store: RunStore, reference: Any, series: Series) -> tuple[dict[str, float] | None, dict[str, list[CellSeries]]]:
    """What events need beyond the scalars: real class areas, and each run's atlas cell counts."""
    real_areas = reference.real_area if reference is not None else None
    cells = {}
    if reference is not None and reference.atlas is not None:
        cells = {run: cell_series(store, run, reference.atlas) for run in series}
    return real_areas, cells


@dataclass(frozen=True)
class TrackResult:
    """Every logged series, the flagged events, and what the reference was (when known)."""

    series: Series
    events: tuple[Event, ...]
    reference: dict[str, Any] = field(default_factory=dict)
    rule: EventRule = field(default_factory=EventRule)
    atlas: AtlasReference | None = None
    cells: dict[str, list[CellSeries]] = field(default_factory=dict)
    highlight: tuple[str, ...] = ()  # runs drawn as their own lines, outside the band (e.g. a planted failure)

    @classmethod
    def from_store(cls, store: str | os.PathLike[str] | RunStore, rule: EventRule | None = None,
                   highlight: tuple[str, ...] = ()) -> TrackResult:
        """Read a store (and the reference saved beside it, if any) and detect events."""
        from genlens.track.tracker import reference_folder

        from genlens.track.measure import describe_reference
        from genlens.track.reference import Reference

        store = store if isinstance(store, RunStore) else RunStore(store)
        folder = reference_folder(store.path)
        ref = Reference.load(folder) if (folder / "reference.json").exists() else None
        rule = rule or EventRule()
        series = store.series()
        real_areas, cells = evidence(store, ref, series)
        events = detect_events(series, rule, real_areas=real_areas, cells=cells)
        return cls(series, tuple(events), describe_reference(ref) if ref is not None else {}, rule,
                   atlas=ref.atlas if ref is not None else None, cells=cells, highlight=tuple(highlight))

    @property
    def runs(self) -> list[str]:
        return sorted(self.series)

    @property
    def metrics(self) -> list[str]:
        return sorted({m for per in self.series.values() for m in per})

    def headline(self) -> list[str]:
        """Metrics with a direction (the ones events are judged on), in a stable order."""
        fixed = [m for m in HIGHER_IS_BETTER if m in self.metrics]
        return fixed + [m for m in self.metrics if m not in HIGHER_IS_BETTER and higher_is_better(m) is not None]

    def product_correlation(self) -> dict[str, float]:
        """Per run: Pearson correlation over steps of the image CMS and the product of cluster CMS."""
        out = {}
        for run, per in self.series.items():
            if "regions/cms" in per and "regions/cms_product" in per:
                a, b = dict(per["regions/cms"]), dict(per["regions/cms_product"])
                steps = sorted(set(a) & set(b))
                x, y = np.array([a[s] for s in steps]), np.array([b[s] for s in steps])
                ok = np.isfinite(x) & np.isfinite(y)
                if ok.sum() >= 3 and x[ok].std() > 0 and y[ok].std() > 0:
                    out[run] = float(np.corrcoef(x[ok], y[ok])[0, 1])
        return out

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "runs": self.runs,
            "series": {r: {m: [[s, v] for s, v in pts] for m, pts in per.items()} for r, per in self.series.items()},
            "events": [e.to_dict() for e in self.events],
            "product_correlation": self.product_correlation(),
            "rule": {"threshold": self.rule.threshold, "min_history": self.rule.min_history},
            "reference": self.reference,
        })

    def sections(self) -> list[Section]:
        """Report sections: events, standard metrics, regions, semantics, one page per run."""
        from genlens.track import figures

        secs = [self._events_section()]
        std = [m for m in self.headline() if m.startswith("metrics/")]
        if std:
            secs.append(Section("track-metrics", "Standard metrics over steps",
                                f"{len(std)} metrics over {len(self.runs)} run(s); line = mean over runs, band = min-max.",
                                (Figure.from_matplotlib("series", figures.metric_panels(self.series, std, self.events,
                                                                                       highlight=self.highlight)),)))
        if "regions/cms" in self.metrics:
            secs.append(self._regions_section())
        if self.atlas_layers():
            secs.append(self._atlas_section())
        if any(m.startswith("semantics/area/") for m in self.metrics):
            fig = figures.area_panels(self.series, self.reference.get("real_area"), self.highlight)
            secs.append(Section("track-semantics", "Class areas over steps",
                                "Generated area fraction of every class; the dashed line is the real fraction.",
                                (Figure.from_matplotlib("areas", fig),)))
        pages = tuple(Figure.from_matplotlib(f"run-{i}", figures.run_page(self.series, run, self.headline(), self.events),
                                             caption=f"run {run}") for i, run in enumerate(self.runs))
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
                 "beyond the run's usual change; the noise combines the metric's measurement error at both steps "
                 "(bootstrap over the generated images) with the spread of the run's earlier changes "
                 f"(1.4826 x MAD, from at least {self.rule.min_history} of them); strongest first",)
        return Section("track-events", "Flagged events", summary,
                       table=Table(("run", "step", "metric", "change", "score", "causes"), rows),
                       data={"events": [e.to_dict() for e in ranked]}, notes=notes)

    def atlas_layers(self) -> list[str]:
        """Atlas layers with a logged divergence, in the reference's order when it is known."""
        logged = {js_layer(m) for m in self.metrics} - {None}
        order = list(self.atlas.layers) if self.atlas is not None else sorted(logged)
        return [layer for layer in order if layer in logged]

    def _atlas_section(self) -> Section:
        from genlens.track import figures

        layers = self.atlas_layers()
        figs = [Figure.from_matplotlib("js", figures.atlas_panels(self.series, layers, self.events, self.highlight))]
        cell_events = [e for e in self.events if any(c["kind"] == "cell" for c in e.causes)]
        shown = sorted({(e.run, e.step) for e in cell_events})[:4]
        for i, (run, step) in enumerate(shown):
            event = max((e for e in cell_events if (e.run, e.step) == (run, step)), key=lambda e: e.score)
            fig = figures.atlas_event(event, self.cells.get(run, []), self.atlas)
            if fig is not None:
                figs.append(Figure.from_matplotlib(f"event-{i}", fig, caption=f"{run}, step {step}: {event.metric}"))
        last = {layer: [v for r in self.series.values() for s, v in r.get(js_metric(layer), [])[-1:]] for layer in layers}
        summary = "Jensen-Shannon divergence of activation cells on a map fitted once on real images; " + ", ".join(
            f"{layer}: last {np.nanmean(v):.3f} nats" for layer, v in last.items() if v)
        notes = ("the dashed line is the noise floor: the divergence between a random subset of real images of the "
                 "step's size and the other real images, i.e. what a perfect generator would score",
                 "generated activations are placed from their nearest real activations (the map is frozen), so "
                 "content no real image has lands at the edge of the nearest real cells")
        return Section("track-atlas", "Activation atlas over steps", summary, tuple(figs), notes=notes,
                       data={"layers": layers, "grid": self.atlas.grid if self.atlas is not None else None})

    def _regions_section(self) -> Section:
        from genlens.track import figures

        corr = self.product_correlation()
        labels = self.reference.get("partition", {}).get("labels")
        labels = np.asarray(labels) if labels is not None else None
        figs = (Figure.from_matplotlib("cms-vs-product", figures.cms_vs_product(self.series, self.events)),
                Figure.from_matplotlib("clusters", figures.cluster_panels(self.series, labels, self.events,
                                                                          self.highlight)))
        summary = ("Correlation over steps of image CMS and product of cluster CMS: "
                   + ", ".join(f"{r} {c:.3f}" for r, c in sorted(corr.items()))) if corr else "Image and cluster-wise CMS over steps."
        return Section("track-regions", "Cluster-wise CMS over steps", summary, figs, data={"product_correlation": corr})


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
