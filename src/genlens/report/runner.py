"""Run every registered diagnostic on a (real, fake) pair; a failure becomes a section, never a crash.

The report is only as trustworthy as its worst section: a diagnostic that raises, does not apply or
returns nothing is still shown, with the reason, so a reader never mistakes silence for a clean bill.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from genlens.errors import GenlensError
from genlens.report.diagnostics import ReportContext, load_diagnostics
from genlens.report.render import check_out_dir, input_paths, write_report
from genlens.report.section import Section


def _short_name(module_name: str) -> str:
    parts = module_name.split(".")
    return parts[-2] if len(parts) >= 2 and parts[-1] == "diagnostic" else parts[-1]


def run_diagnostic(module: ModuleType, ctx: ReportContext) -> Section:
    """``applies`` then ``run`` one diagnostic module; errors are caught into a failed section."""
    key = str(getattr(module, "KEY", _short_name(module.__name__)))
    title = str(getattr(module, "TITLE", key))
    try:
        reason = module.applies(ctx)
        if reason is not None:
            return Section.unavailable(key, title, "skipped", str(reason))
        section = module.run(ctx)
    except GenlensError as err:
        return Section.unavailable(key, title, "failed", f"{type(err).__name__}: {err}")
    except Exception as err:  # noqa: BLE001 -- one broken view must not take the report down
        where = traceback.extract_tb(err.__traceback__)[-1]
        return Section.unavailable(
            key,
            title,
            "failed",
            f"internal error {type(err).__name__}: {err} (at {Path(where.filename).name}:{where.lineno}; "
            "please report it)",
        )
    if not isinstance(section, Section):
        return Section.unavailable(key, title, "failed", f"diagnostic returned {type(section).__name__}, not a Section")
    return section


#: Called after each diagnostic with its section and the seconds it took (progress, timing).
OnDone = Callable[[Section, float], None]


def run_diagnostics(ctx: ReportContext, only: Sequence[str] | None = None, on_done: OnDone | None = None) -> list[Section]:
    """Sections of every registered diagnostic (in registry order), optionally only the ``only`` keys."""
    sections = []
    for name, loaded in load_diagnostics():
        if isinstance(loaded, Exception):
            key = _short_name(name)
            if only is None or key in only:
                sections.append(
                    Section.unavailable(key, key, "failed", f"could not import {name}: {type(loaded).__name__}: {loaded}")
                )
            continue
        key = str(getattr(loaded, "KEY", _short_name(name)))
        if only is not None and key not in only:
            continue
        start = time.perf_counter()
        sections.append(run_diagnostic(loaded, ctx))
        if on_done is not None:
            on_done(sections[-1], time.perf_counter() - start)
    return sections


def build_report(
    ctx: ReportContext, title: str = "genlens report", only: Sequence[str] | None = None, on_done: OnDone | None = None
) -> Path:
    """Run the diagnostics and write the report into ``ctx.out_dir``; return the ``report.html`` path."""
    inputs = {"real": ctx.real.describe(), "fake": ctx.fake.describe()}
    check_out_dir(ctx.out_dir, input_paths(inputs))  # refuse before spending minutes on diagnostics
    sections = run_diagnostics(ctx, only=only, on_done=on_done)
    return write_report(sections, ctx.out_dir, title=title, inputs=inputs)
