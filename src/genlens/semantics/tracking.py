"""The semantics view over training steps: which classes' areas moved away from the real ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from genlens.plotting import Series, panel_grid, runs_band
from genlens.views.base import StepEvidence, shares
from genlens.views.section import Figure, Section

AREA_PREFIX = "semantics/area/"


def class_causes(real_area: Mapping[str, float], evidence: StepEvidence) -> list[dict[str, Any]]:
    """Classes by the growth of ``|generated area - real area|`` from the previous step."""
    growth = {}
    for name, real in real_area.items():
        old = evidence.value(AREA_PREFIX + name, evidence.prev)
        new = evidence.value(AREA_PREFIX + name, evidence.step)
        if old is not None and new is not None:
            growth[name] = abs(new - real) - abs(old - real)
    return shares(growth, "class", lambda n: n, evidence.rule.max_causes, evidence.rule.min_share)


def area_panels(series: Series, real_area: Mapping[str, float] | None, highlight: Sequence[str] = ()) -> Any:
    """Mean generated area fraction of each class over steps; the grey line is the real fraction."""
    classes = sorted({m[len(AREA_PREFIX):] for r in series.values() for m in r if m.startswith(AREA_PREFIX)})
    fig, axes = panel_grid(len(classes))
    for ax, name in zip(axes, classes):
        runs_band(ax, series, AREA_PREFIX + name, "tab:orange", highlight)
        if real_area and name in real_area:
            ax.axhline(real_area[name], color="grey", lw=1.0, ls="--")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("area fraction per class (generated: mean and band over runs; real: dashed)", fontsize=10)
    fig.tight_layout()
    return fig


def track_section(result: Any) -> list[Section]:
    """The tracking report's class-area section."""
    if not any(m.startswith(AREA_PREFIX) for m in result.metrics):
        return []
    real_area = result.reference.get("semantics", {}).get("real_area")
    fig = area_panels(result.series, real_area, result.highlight)
    return [Section("track-semantics", "Class areas over steps",
                    "Generated area fraction of every class; the dashed line is the real fraction.",
                    (Figure.from_matplotlib("areas", fig),))]
