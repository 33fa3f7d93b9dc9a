"""Run every registered view on a real set and generated sets; a failure becomes a section, never a crash.

The report is only as trustworthy as its worst section: a view that raises, does not apply or
returns nothing is still shown, with the reason, so a reader never mistakes silence for a clean bill.
A :class:`Runner` fits each view on the real set once and reuses the fit for every generated set it
is asked about (the demo compares nine generators against one real set).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from genlens.budget import check_alpha, view_shares
from genlens.errors import ConfigError, GenlensError
from genlens.features.shared_pass import SharedPasses
from genlens.io.base import ImageSource
from genlens.report.render import check_out_dir, input_paths, write_report
from genlens.views import RunContext, Section, View, views

#: Called after each view with its section and the seconds it took (progress, timing).
OnDone = Callable[[Section, float], None]


class Runner:
    """Every view (or the ``only`` ones) fitted once on ``real``, ready to report generated sets.

    ``options`` maps a view's key to its options (a mapping of field values, or the view's ``Options``);
    unknown views or options are refused before any work starts.
    """

    def __init__(self, real: ImageSource, options: Mapping[str, Any] | None = None, ctx: RunContext | None = None,
                 only: Sequence[str] | None = None) -> None:
        self.real, self.ctx = real, ctx or RunContext()
        self.alpha = check_alpha(self.ctx.alpha)  # the report's whole false-alarm budget
        registered = views()
        known = {v.key for v in registered}
        options = dict(options or {})
        unknown = sorted(set(options) - known) + sorted(set(only or ()) - known)
        if unknown:
            raise ConfigError(f"unknown view(s) {unknown}; views: {', '.join(sorted(known))}")
        self.views: list[View] = [v for v in registered if only is None or v.key in only]
        self.options = {v.key: v.options(options.get(v.key)) for v in self.views}
        self._fitted: dict[str, Any] = {}

    def reference(self, view: View) -> Any:
        """The view's fit on the real set (computed on first use; a failure is kept and re-raised)."""
        if view.key not in self._fitted:
            try:
                self._fitted[view.key] = view.fit(self.real, self.options[view.key], self.ctx)
            except Exception as err:  # noqa: BLE001 -- reported in every section that needs it
                self._fitted[view.key] = err
        fitted = self._fitted[view.key]
        if isinstance(fitted, Exception):
            raise fitted
        return fitted

    def plan(self, fake: ImageSource) -> SharedPasses:
        """Every applicable view's network passes on the real set and ``fake``, planned together so that
        views reading one network on the same images share one pass. A view whose planning fails is
        left to fail (or not) in its own section."""
        passes = SharedPasses(self.ctx.device)
        for view in self.views:
            try:
                if view.applies(self.real, fake, self.options[view.key]) is None:
                    view.plan(passes, self.real, fake, self.options[view.key], self.ctx, view.key in self._fitted)
            except Exception:  # noqa: BLE001,S112 -- the view's own section reports the same error
                continue
        return passes

    def shares(self, fake: ImageSource) -> dict[str, float]:
        """Each view's share of the report's false-alarm budget: equal over the views that apply to
        ``fake`` and have findings to judge (:mod:`genlens.budget`). A view whose check fails keeps a
        share: its section fails, and the budget stays valid (only more conservative)."""
        judged = []
        for view in self.views:
            if not view.families:
                continue
            try:
                if view.applies(self.real, fake, self.options[view.key]) is not None:
                    continue
            except Exception:  # noqa: BLE001,S112 -- the view's own section reports it
                pass
            judged.append(view.key)
        return view_shares(self.alpha, judged)

    def section(self, view: View, fake: ImageSource, out_dir: Path | None = None,
                passes: SharedPasses | None = None, alpha: float | None = None) -> Section:
        """``applies``, then ``fit`` (once) and the view's section of ``fake``; errors become a failed section.

        ``alpha`` is the view's share of the budget (default: the whole of it, as for a view run alone)."""
        ctx = replace(self.ctx, out_dir=out_dir, passes=passes, alpha=self.alpha if alpha is None else alpha)
        try:
            reason = view.applies(self.real, fake, self.options[view.key])
            if reason is not None:
                return Section.unavailable(view.key, view.title, "skipped", str(reason))
            section = view.section(self.reference(view), fake, ctx)
        except GenlensError as err:
            return Section.unavailable(view.key, view.title, "failed", f"{type(err).__name__}: {err}")
        except Exception as err:  # noqa: BLE001 -- one broken view must not take the report down
            where = traceback.extract_tb(err.__traceback__)[-1]
            return Section.unavailable(
                view.key, view.title, "failed",
                f"internal error {type(err).__name__}: {err} (at {Path(where.filename).name}:{where.lineno}; "
                "please report it)",
            )
        if not isinstance(section, Section):
            return Section.unavailable(view.key, view.title, "failed",
                                       f"view returned {type(section).__name__}, not a Section")
        return section

    def sections(self, fake: ImageSource, out_dir: Path | None = None, on_done: OnDone | None = None) -> list[Section]:
        """One section per view, in registry order; views reading one network share its pass
        (the view that runs it first is timed for it)."""
        passes = self.plan(fake)
        shares = self.shares(fake)
        out = []
        for view in self.views:
            start = time.perf_counter()
            out.append(self.section(view, fake, out_dir, passes, shares.get(view.key, self.alpha)))
            if on_done is not None:
                on_done(out[-1], time.perf_counter() - start)
        return out


def build_report(
    real: ImageSource,
    fake: ImageSource,
    out_dir: str | Path,
    options: Mapping[str, Any] | None = None,
    ctx: RunContext | None = None,
    title: str = "genlens report",
    only: Sequence[str] | None = None,
    on_done: OnDone | None = None,
) -> Path:
    """Run the views and write the report into ``out_dir``; return the ``report.html`` path."""
    out_dir = Path(out_dir)
    inputs = {"real": real.describe(), "fake": fake.describe()}
    check_out_dir(out_dir, input_paths(inputs))  # refuse before spending minutes on the views
    runner = Runner(real, options, ctx, only)
    sections = runner.sections(fake, out_dir, on_done)
    return write_report(sections, out_dir, title=title, inputs=inputs, alpha=runner.alpha)
