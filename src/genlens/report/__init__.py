"""The report: diagnostics contribute :class:`Section` objects; this package writes them as
``report.html`` (self-contained), ``results.json`` (versioned) and ``figures/*.png``."""

from __future__ import annotations

from genlens.report.render import SCHEMA_VERSION, check_out_dir, write_report
from genlens.views.section import Figure, Section, Table

__all__ = ["SCHEMA_VERSION", "Figure", "Section", "Table", "check_out_dir", "write_report"]
