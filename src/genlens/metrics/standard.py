"""Results of the standard-metrics section: one :class:`MetricEstimate` per scalar, gathered in a
:class:`StandardMetrics` that renders itself as a report :class:`Section` and as the JSON of
``genlens metrics --json``. Computed by :class:`genlens.metrics.reference.MetricsReference`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from genlens.budget import DEFAULT_ALPHA, Family, holm
from genlens.statistics import one_sided_p
from genlens.views.section import Finding, Section, Table

KEY = "metrics"
TITLE = "Standard metrics"
#: The family of tests the view's findings are corrected in (genlens.budget).
TEST_FAMILY = f"{KEY}/gaps"

#: Metric families and the scalars each reports.
FAMILIES: dict[str, tuple[str, ...]] = {
    "fid": ("fid",),
    "kid": ("kid",),
    "is": ("is",),
    "prdc": ("precision", "recall", "density", "coverage"),
    "mmd": ("mmd",),
    "cms": ("cms",),
}
DEFAULT_METRICS: tuple[str, ...] = tuple(FAMILIES)


@dataclass(frozen=True)
class MetricDef:
    """What a metric's number means: which way is better, and its natural range (intervals are clipped to it)."""

    name: str
    higher_is_better: bool
    bounds: tuple[float, float] = (-math.inf, math.inf)


#: Every scalar of every family, with its direction and range (the one table of both).
METRICS: dict[str, MetricDef] = {m.name: m for m in (
    MetricDef("fid", False, (0.0, math.inf)),
    MetricDef("kid", False),  # unbiased: may fall below 0 by noise
    MetricDef("is", True, (1.0, math.inf)),
    MetricDef("precision", True, (0.0, 1.0)),
    MetricDef("recall", True, (0.0, 1.0)),
    MetricDef("density", True, (0.0, math.inf)),
    MetricDef("coverage", True, (0.0, 1.0)),
    MetricDef("mmd", False),
    MetricDef("cms", True),
)}


@dataclass(frozen=True)
class MetricEstimate:
    """One scalar: its value on all samples, a bootstrap CI, and the floor/matched pair at half size."""

    name: str
    value: float
    ci: tuple[float, float] | None = None
    floor: float | None = None  # the metric between two disjoint halves of the real set
    matched: float | None = None  # generated (same size as a half) vs the second real half
    higher_is_better: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value}
        if self.ci is not None:
            out["ci"] = list(self.ci)
        for key in ("floor", "matched"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["higher_is_better"] = self.higher_is_better
        out.update(self.details)
        return out


@dataclass(frozen=True)
class StandardMetrics:
    """All standard metrics of one (real, generated) comparison, with provenance."""

    estimates: tuple[MetricEstimate, ...]
    n_real: int
    n_fake: int
    extractor: dict[str, Any]
    inputs: dict[str, Any]
    level: float
    n_boot: int
    seed: int
    k: int
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # caveats that change how far to trust the numbers (also among notes)
    alpha: float = DEFAULT_ALPHA  # this view's share of the false-alarm budget (genlens.budget)

    def estimate(self, name: str) -> MetricEstimate:
        for est in self.estimates:
            if est.name == name:
                return est
        raise KeyError(f"{name} was not computed; computed: {[e.name for e in self.estimates]}")

    def value(self, name: str) -> float:
        return self.estimate(name).value

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": {e.name: e.to_dict() for e in self.estimates},
            "n_real": self.n_real,
            "n_fake": self.n_fake,
            "extractor": self.extractor,
            "level": self.level,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "k": self.k,
            "notes": list(self.notes),
        }

    def to_json(self) -> dict[str, Any]:
        """The ``genlens metrics --json`` document: ``metrics`` and ``inputs`` at the top level."""
        return {
            "metrics": {e.name: e.to_dict() for e in self.estimates},
            "inputs": self.inputs,
            "settings": {"level": self.level, "n_boot": self.n_boot, "seed": self.seed, "k": self.k},
            "notes": list(self.notes),
        }

    def gaps(self) -> list[tuple[MetricEstimate, float]]:
        """Each metric judged against its floor, with its gap in noise units (positive: worse than real).

        The generated value at half size (``matched``) and the real-vs-real ``floor`` are both measured
        at the same sample size, so their difference is what the generator adds. Each is one half-size
        estimate, with about ``sqrt(2)`` times the full-size standard error (from the bootstrap
        interval), so their difference has about ``2 SE``. Metrics without an interval or a floor are
        not judged.
        """
        from genlens.statistics import z_of_level

        out = []
        for e in self.estimates:
            if e.ci is None or e.floor is None or e.matched is None:
                continue
            se = (e.ci[1] - e.ci[0]) / (2.0 * z_of_level(self.level))
            if not se > 0:  # an interval of zero width (recall 0 in every resample): a rough error instead
                n = max(self.n_real // 2, 2)
                if METRICS[e.name].bounds == (0.0, 1.0):  # a proportion: its binomial error at the floor
                    p = min(max(e.floor, 1.0 / n), 1.0 - 1.0 / n)
                    se = (p * (1.0 - p) / n) ** 0.5
                else:
                    se = max(abs(e.floor), 1e-12) / n**0.5
            worse = (e.floor - e.matched) if e.higher_is_better else (e.matched - e.floor)
            out.append((e, worse / (2.0 * se)))
        return out

    #: The test behind every metric's finding (``gaps``).
    TEST = "gap between the generated half and the real-vs-real floor, normal with 2 bootstrap SE (one-sided)"

    def family(self) -> Family:
        """The one family of the view: every judged metric, Holm-corrected at the view's share."""
        return Family(TEST_FAMILY, self.alpha, len(self.gaps()), "Holm")

    def findings(self) -> tuple[Finding, ...]:
        """A ``global`` finding per judged metric: its gap to the floor in noise units, its one-sided
        p-value, significant when Holm's adjusted p-value over the judged metrics is within the
        view's share of the budget."""
        gaps = self.gaps()
        family = self.family()
        p_values = [one_sided_p(score) for _, score in gaps]
        adjusted = holm(p_values)
        out = []
        for (e, score), p, q in zip(gaps, p_values, adjusted):
            way = "below" if e.higher_is_better else "above"
            sentence = (f"{e.name} {e.matched:.4g} at half size, {way} its real-vs-real floor {e.floor:.4g} by "
                        f"{score:.1f} noise units" if score > 0 else
                        f"{e.name} {e.matched:.4g} at half size, at or better than its floor {e.floor:.4g}")
            out.append(Finding(KEY, "global", None, float(score), bool(q <= family.alpha), sentence, test=self.TEST,
                               p=p, family=family.name, p_family=float(q), alpha=family.alpha))
        return tuple(out)

    def summary(self) -> str:
        from genlens.metrics.figures import summary_sentence

        return summary_sentence(self)

    def to_section(self) -> Section:
        from genlens.metrics.figures import metrics_figure

        columns = ("metric", "value", f"CI low ({self.level:.0%})", "CI high", "generated (half)", "real floor (half)", "better")
        rows = tuple(
            (
                e.name,
                e.value,
                e.ci[0] if e.ci else None,
                e.ci[1] if e.ci else None,
                e.matched,
                e.floor,
                "higher" if e.higher_is_better else "lower",
            )
            for e in self.estimates
        )
        figures = (metrics_figure(self),) if self.estimates else ()
        return Section(
            key=KEY,
            title=f"{TITLE} ({self.extractor.get('name', '?')} features)",
            summary=self.summary(),
            figures=figures,
            table=Table(columns, rows),
            data={**self.to_dict(), "inputs": self.inputs},
            notes=self.notes,
            warnings=self.warnings,
            findings=self.findings(),
            families=(self.family(),),
            status="ok" if self.estimates else "empty",
            reason="" if self.estimates else "no metric could be computed: " + "; ".join(self.notes),
        )
