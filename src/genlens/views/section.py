"""The contract between diagnostics and the report.

A diagnostic turns its frozen result dataclass into a :class:`Section`; the report only assembles
sections into HTML, JSON and PNG files. A section that failed or had nothing to show still appears,
with ``status`` and ``reason`` saying why, so nothing vanishes silently.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "empty", "failed", "skipped"]


@dataclass(frozen=True)
class Figure:
    """One PNG figure of a section; ``name`` becomes ``figures/<section>-<name>.png``."""

    name: str
    png: bytes
    caption: str = ""

    @classmethod
    def from_matplotlib(cls, name: str, fig: Any, caption: str = "", dpi: int = 110) -> "Figure":
        """Render a matplotlib figure to PNG bytes and close it."""
        from genlens.plotting import pyplot

        plt = pyplot()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        return cls(name=name, png=buf.getvalue(), caption=caption)


@dataclass(frozen=True)
class Table:
    """A small table: column names and rows of plain values (numbers or strings)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Finding:
    """What a user acts on: which view found what, where, how strongly (in noise units), and whether
    it stands beyond the noise. ``where`` depends on ``kind``: a ``box`` ``[top, left, bottom, right]``
    in input pixels for a ``region``, a class name for a ``class``, example image indices for a
    ``mode``, a layer and cell for a ``cell``, nothing for a ``global`` finding.

    Its evidence: ``test`` names the test (whose unit of independence is the image), ``p`` is that
    test's own p-value, ``family`` the family of tests it was corrected in, ``p_family`` its
    family-wise adjusted p-value and ``alpha`` the family's share of the report's false-alarm budget
    (:mod:`genlens.budget`); ``significant`` is ``p_family <= alpha``.
    """

    view: str
    kind: str
    where: Any
    score: float
    significant: bool
    sentence: str
    test: str = ""
    p: float = float("nan")
    family: str = ""
    p_family: float = float("nan")
    alpha: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.view, "kind": self.kind, "where": self.where, "score": self.score,
                "significant": self.significant, "sentence": self.sentence, "test": self.test, "p": self.p,
                "family": self.family, "p_family": self.p_family, "alpha": self.alpha}


def ranked(findings: Any) -> list[Finding]:
    """Significant findings first, then by score (strongest first): the order the report lists them in."""
    return sorted(findings, key=lambda f: (not f.significant, -f.score if f.score == f.score else float("inf")))


@dataclass(frozen=True)
class Section:
    """One diagnostic's part of the report.

    ``key`` is a stable identifier (``"metrics"``, ``"regions"``, ...) used as the JSON key;
    ``summary`` is one sentence with the key finding; ``data`` is the JSON-safe raw result;
    ``notes`` are caveats shown under the summary (e.g. "covariance is singular at this n").
    """

    key: str
    title: str
    summary: str
    figures: tuple[Figure, ...] = ()
    table: Table | None = None
    data: dict[str, Any] = field(default_factory=dict)
    status: Status = "ok"
    reason: str = ""
    notes: tuple[str, ...] = ()  # caveats worth reading next to the numbers (warnings, choices made)
    findings: tuple[Finding, ...] = ()  # what the view found, each with where, score and significance
    warnings: tuple[str, ...] = ()  # caveats that change how far to trust the numbers: printed on the console too
    families: tuple[Any, ...] = ()  # genlens.budget.Family: the families its findings were corrected in

    @property
    def verdict(self) -> str:
        """``found`` (a significant finding), ``nothing beyond noise`` (ran, found none), or the status."""
        if self.status != "ok":
            return self.status
        return "found" if any(f.significant for f in self.findings) else "nothing beyond noise"

    @classmethod
    def unavailable(cls, key: str, title: str, status: Status, reason: str) -> "Section":
        """A section that could not be computed, stating why."""
        return cls(key=key, title=title, summary=reason, status=status, reason=reason)
