"""The view protocol: one shape for every view, used alike by the report, the CLI and tracking.

A view answers one question about a generator (its standard metrics, which region, which class,
which latent dimension, which activation cell). It is used as a scikit-learn estimator is: fitted
once on the real images, then asked about any number of generated sets::

    view = get_view("regions")
    options = view.Options(clusters=8)                 # a frozen dataclass: the one place for defaults
    reference = view.fit(real, options, ctx)           # learns from the real images once
    result = view.compare(reference, fake, ctx)        # result.to_section() -> the report's section
    step = view.measure(reference, images, ctx)        # tracking: cheap numbers with their noise

``compare`` is the full analysis (figures, intervals, noise floors); ``measure`` the cheap form that
tracking logs at every training step, each number with its bootstrap standard error and direction.
A view that cannot be tracked (the latent manifold analyses a decoder, not images) says so with
``tracks = False``. A tracked view's reference is saved beside the tracking store and loaded by every
later process, so step 3 and step 300 are measured against the same real-data state.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from genlens.budget import DEFAULT_ALPHA
from genlens.errors import ConfigError
from genlens.io.base import ImageSource
from genlens.views.section import Finding, Section


@dataclass(frozen=True)
class RunContext:
    """Where and how a view runs: the device, the cache, the seed, and the folder of the report.

    ``out_dir`` is where a view may write files beside the report (the atlas viewer); ``None`` when
    nothing but the result is wanted. ``passes`` holds the network passes the views planned together
    (:class:`~genlens.features.shared_pass.SharedPasses`); ``None`` outside a report. ``alpha`` is
    this view's share of the false-alarm budget (:mod:`genlens.budget`): the whole budget for a view
    run alone, its equal part of it in a report.
    """

    device: str = "cpu"
    cache_dir: Path | None = None
    seed: int = 0
    out_dir: Path | None = None
    passes: Any = None
    alpha: float = DEFAULT_ALPHA


@dataclass(frozen=True)
class Measurement:
    """One tracked number: its value, its bootstrap standard error over the generated images, and its
    direction (``None``: logged and drawn, never judged -- a noise floor, a class area)."""

    value: float
    se: float = math.nan
    higher_is_better: bool | None = None


@dataclass(frozen=True)
class Measurements:
    """What one step of tracking logs for one view: named numbers and (optionally) named arrays."""

    values: Mapping[str, Measurement]
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)


class View:
    """Base class of every view: the protocol, with the defaults most views want.

    Subclasses set ``key``, ``title`` and ``Options`` and implement :meth:`fit` and :meth:`compare`;
    tracked views also implement :meth:`measure` and the reference's persistence.
    """

    key: ClassVar[str]
    title: ClassVar[str]
    #: Frozen dataclass of this view's settings; the CLI builds its flags and help from it.
    Options: ClassVar[type]
    #: Whether tracking can log this view at every step (:meth:`measure`).
    tracks: ClassVar[bool] = False
    #: The families of tests its findings are corrected in (``view/part``); its share of a report's
    #: false-alarm budget is split equally over them. Empty: the view finds nothing to judge.
    families: ClassVar[tuple[str, ...]] = ()

    # -- options --------------------------------------------------------------------------------------
    def options(self, given: Any = None, **overrides: Any) -> Any:
        """An ``Options`` instance from ``None``, an instance, or a mapping of field values (checked)."""
        if given is None:
            given = {}
        if isinstance(given, self.Options):
            return dataclasses.replace(given, **overrides) if overrides else given
        if not isinstance(given, Mapping):
            raise ConfigError(f"options of the {self.key} view must be a mapping or {self.Options.__name__}, "
                              f"got {type(given).__name__}")
        values = {**given, **overrides}
        known = {f.name for f in dataclasses.fields(self.Options)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown} of the {self.key} view; it has {sorted(known)}")
        from genlens.views.options import check_bounds, coerce

        options = self.Options(**{name: coerce(self.Options, name, value) for name, value in values.items()})
        check_bounds(options)
        return options

    # -- the report -----------------------------------------------------------------------------------
    def applies(self, real: ImageSource, fake: ImageSource | None, options: Any) -> str | None:
        """``None`` when the view applies to these inputs, else the reason it does not (shown as skipped)."""
        return None

    def plan(self, passes: Any, real: ImageSource, fake: ImageSource, options: Any, ctx: RunContext,
             fitted: bool) -> None:
        """Plan the network passes this view will read on ``real`` and ``fake`` (``fitted``: its reference
        exists already), so views reading one network share one pass
        (:class:`~genlens.features.shared_pass.SharedPasses`). Default: none."""

    def fit(self, real: ImageSource, options: Any, ctx: RunContext) -> Any:
        """Learn what the view needs from the real images, once (features, a partition, class areas...)."""
        raise NotImplementedError

    def compare(self, reference: Any, fake: ImageSource, ctx: RunContext) -> Any:
        """The full analysis of ``fake`` against a fitted reference; a result with ``to_section()``."""
        raise NotImplementedError

    def section(self, reference: Any, fake: ImageSource, ctx: RunContext) -> Section:
        """``compare(...).to_section()``: what the report shows."""
        return self.compare(reference, fake, ctx).to_section()

    # -- tracking -------------------------------------------------------------------------------------
    def fit_tracking(self, real: ImageSource, options: Any, ctx: RunContext) -> Any:
        """The reference tracking measures against (default: :meth:`fit`'s)."""
        return self.fit(real, options, ctx)

    def plan_measure(self, passes: Any, reference: Any, images: torch.Tensor, ctx: RunContext) -> None:
        """Plan the network passes :meth:`measure` will read on one step's ``images``, as :meth:`plan`
        does for a report. Default: none."""

    def measure(self, reference: Any, images: torch.Tensor, ctx: RunContext, n_boot: int = 20) -> Measurements:
        """Cheap per-step numbers of uint8 ``(n, 3, H, W)`` images, each with its standard error over
        ``n_boot`` resamples of the images."""
        raise NotImplementedError(f"the {self.key} view is not tracked")

    def direction(self, metric: str) -> bool | None:
        """Whether a larger value of this view's tracked ``metric`` is better (``None``: not judged).

        The same as the :class:`Measurement`'s ``higher_is_better``; lets a store written elsewhere be
        judged without measuring again."""
        return None

    def save_reference(self, reference: Any, folder: Path) -> None:
        """Write a tracking reference into ``folder`` (plain arrays and JSON; never a pickle)."""
        raise NotImplementedError(f"the {self.key} view is not tracked")

    def load_reference(self, folder: Path, ctx: RunContext) -> Any:
        """Read back what :meth:`save_reference` wrote."""
        raise NotImplementedError(f"the {self.key} view is not tracked")

    def describe_reference(self, reference: Any) -> dict[str, Any]:
        """What a reader of tracking results needs to know about the reference (JSON-safe)."""
        return {}

    def causes(self, reference: Any, evidence: "StepEvidence", metric: str) -> list[dict[str, Any]]:
        """Which parts of the view (clusters, classes, cells) account for a worsening between two steps."""
        return []

    def track_sections(self, result: Any) -> list[Section]:
        """Extra sections of the tracking report (beyond the generic panels of every judged number)."""
        return []

    def __repr__(self) -> str:
        return f"<view {self.key}: {self.title}>"


@dataclass(frozen=True)
class StepEvidence:
    """What an event's causes may look at: the run's series, the two steps, and the run's arrays."""

    run: str
    prev: int
    step: int
    series: Mapping[str, Sequence[tuple[int, float]]]
    arrays: Any  # callable (run, name) -> {step: array}
    rule: Any

    def value(self, metric: str, step: int) -> float | None:
        return dict(self.series.get(metric, [])).get(step)


def size_mismatch(real: tuple[int, ...], fake: tuple[int, ...], view: str) -> str | None:
    """Why a view that compares images pixel by pixel cannot compare these sizes (``None``: same size)."""
    if tuple(real) == tuple(fake):
        return None
    return (f"real images are {real[0]}x{real[1]} and fake images {fake[0]}x{fake[1]}; {view} compares them "
            "pixel by pixel, so resize one set to the other's size first")


def shares(worsening: Mapping[str, float], kind: str, ident: Any, max_causes: int = 3,
           min_share: float = 0.1) -> list[dict[str, Any]]:
    """Positive parts of a worsening as shares of their sum, largest first: the causes of an event.

    At most ``max_causes`` are kept; after the first, parts below ``min_share`` are dropped.
    ``ident`` turns a key into the cause's ``id``.
    """
    positive = {k: v for k, v in worsening.items() if np.isfinite(v) and v > 0}
    total = sum(positive.values())
    if total <= 0:
        return []
    out: list[dict[str, Any]] = []
    for key, value in sorted(positive.items(), key=lambda kv: -kv[1])[:max_causes]:
        share = value / total
        if share < min_share and out:
            break
        out.append({"kind": kind, "id": ident(key), "name": f"{kind} {ident(key)}", "change": float(value),
                    "share": float(share)})
    return out
