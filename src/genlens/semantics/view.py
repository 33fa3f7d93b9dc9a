"""The semantics view: segment real and generated images and compare their per-class statistics.

``fit`` loads the segmenter and segments the real images once; ``compare`` segments a generated set
and ranks the classes it omits or over-produces (area, presence, FSD, all with intervals); ``measure``
gives tracking FSD and every class's mean area, with their standard errors.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlens._fs import atomic_path, atomic_write_text
from genlens.io.base import ImageSource
from genlens.semantics.analysis import KEY, TEST_FAMILY, TITLE, SemanticsResult, compare_areas_of, common_size
from genlens.semantics.segmenter import Segmenter, segment_source
from genlens.views.base import Measurement, Measurements, RunContext, StepEvidence, View
from genlens.views.options import option


@dataclass(frozen=True)
class SemanticsOptions:
    segmenter: str | None = option(None, "Segmenter: torchvision:<arch> or deeplabv3 / fcn (21 VOC classes; weights "
                                   "must be cached when offline), hf:<local model folder>, pkg.module:factory, or a "
                                   "registered name such as zoo / zoo-quick (default: the images' own, if they have "
                                   "one).", short="-s")
    n_boot: int = option(500, "Bootstrap replicates for the per-class intervals.", min=0)
    level: float = option(0.95, "Confidence level of the intervals.", min=0.5, max=0.999)
    max_images: int | None = option(None, "Use at most the first N images of each input (FSD is biased: compare "
                                    "models at equal counts).", flag="--n", min=2)
    presence_threshold: float = option(0.0, "Minimum area fraction for a class to count as present in an image.",
                                       min=0.0, max=1.0)
    batch_size: int = option(64, "Images per segmentation batch.", min=1)
    segmenter_options: tuple[tuple[str, Any], ...] = option((), "Keyword arguments of the segmenter, as (name, "
                                                           "value) pairs.", cli=False)


@dataclass
class FittedSemantics:
    """The semantics view's reference: the segmenter and the real images' class areas (per size)."""

    options: SemanticsOptions
    segmenter_name: str
    segmenter: Segmenter
    real: ImageSource | None
    size: tuple[int, int]
    real_areas: np.ndarray  # (n, C) per-image class-area fractions at ``size``
    _areas: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.segmenter.classes)

    @property
    def real_area(self) -> dict[str, float]:
        """Mean real area fraction of each class."""
        return dict(zip(self.class_names, self.real_areas.mean(axis=0).tolist()))

    def areas_at(self, size: tuple[int, int]) -> np.ndarray:
        """The real class areas segmented at ``size`` (a smaller generated set is compared at its size)."""
        if size == self.size:
            return self.real_areas
        if size not in self._areas:
            o = self.options
            self._areas[size] = segment_source(self.real, self.segmenter, o.batch_size, size, "segmenting real images",
                                               o.max_images)
        return self._areas[size]


class SemanticsView(View):
    key = KEY
    title = TITLE
    Options = SemanticsOptions
    tracks = True
    families = (TEST_FAMILY,)

    def applies(self, real: ImageSource, fake: ImageSource | None, options: SemanticsOptions) -> str | None:
        if segmenter_for(real, options) is None:
            return ("no segmenter for these images: pass one with --segmenter (e.g. torchvision:deeplabv3_resnet50 "
                    "with cached weights, or pkg.module:factory)")
        return None

    def fit(self, real: ImageSource, options: SemanticsOptions, ctx: RunContext) -> FittedSemantics:
        name = segmenter_for(real, options)
        segmenter = _load(name, real, ctx, options=options)
        size = tuple(real.image_size)
        areas = segment_source(real, segmenter, options.batch_size, size, "segmenting real images", options.max_images)
        return FittedSemantics(options, name, segmenter, real, size, areas)

    def compare(self, reference: FittedSemantics, fake: ImageSource, ctx: RunContext) -> SemanticsResult:
        o = reference.options
        size = common_size(reference.real, fake)
        result = compare_areas_of(reference.real, reference.areas_at(size), fake, reference.segmenter, size,
                                  o.batch_size, o.n_boot, o.level, ctx.seed, o.presence_threshold, o.max_images)
        return replace(result, alpha=ctx.alpha)

    # -- tracking ---------------------------------------------------------------------------------------
    def measure(self, reference: FittedSemantics, images: torch.Tensor, ctx: RunContext, n_boot: int = 20) -> Measurements:
        from genlens.semantics import class_areas, fsd
        from genlens.semantics.segmenter import segment_batch
        from genlens.statistics import bootstrap_se

        n_classes = len(reference.class_names)
        batch = reference.options.batch_size
        areas = np.concatenate([class_areas(segment_batch(reference.segmenter, images[lo : lo + batch]), n_classes)
                                for lo in range(0, len(images), batch)])
        value = fsd(reference.real_areas, areas)
        se = bootstrap_se(lambda rows: fsd(reference.real_areas, areas[rows]), len(areas), n_boot, ctx.seed)
        values = {f"{KEY}/fsd": Measurement(value, se, False)}
        area_se = areas.std(axis=0, ddof=1) / np.sqrt(len(areas)) if n_boot >= 2 else np.full(n_classes, np.nan)
        values.update({area_metric(c): Measurement(float(a), float(e), None)
                       for c, a, e in zip(reference.class_names, areas.mean(axis=0), area_se)})
        return Measurements(values)

    def direction(self, metric: str) -> bool | None:
        return False if metric == f"{KEY}/fsd" else None

    def save_reference(self, reference: FittedSemantics, folder: Path) -> None:
        with atomic_path(folder / "areas.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, real_areas=reference.real_areas)
        header = {"options": asdict(reference.options), "segmenter": reference.segmenter_name,
                  "size": list(reference.size), "classes": list(reference.class_names)}
        atomic_write_text(folder / "semantics.json", json.dumps(header))

    def load_reference(self, folder: Path, ctx: RunContext) -> FittedSemantics:
        header = json.loads((folder / "semantics.json").read_text())
        with np.load(folder / "areas.npz", allow_pickle=False) as z:
            areas = np.array(z["real_areas"])
        options = self.options({k: v for k, v in header["options"].items()})
        segmenter = _load(header["segmenter"], None, ctx, tuple(header["size"]), options)
        return FittedSemantics(options, header["segmenter"], segmenter, None, tuple(header["size"]), areas)

    def describe_reference(self, reference: FittedSemantics) -> dict[str, Any]:
        return {"segmenter": reference.segmenter_name, "classes": list(reference.class_names),
                "real_area": reference.real_area}

    def causes(self, reference: FittedSemantics, evidence: StepEvidence, metric: str) -> list[dict[str, Any]]:
        from genlens.semantics.tracking import class_causes

        return class_causes(reference.real_area, evidence)

    def track_sections(self, result: Any) -> list[Any]:
        from genlens.semantics.tracking import track_section

        return track_section(result)


def area_metric(name: str) -> str:
    """Tracking name of a class's mean generated area."""
    return f"{KEY}/area/{name}"


def segmenter_for(real: ImageSource, options: SemanticsOptions) -> str | None:
    """The segmenter to use: the one named in the options, else the images' own default (zoo images)."""
    return options.segmenter or real.defaults().get("segmenter")


def _load(name: str, real: ImageSource | None, ctx: RunContext, size: tuple[int, int] | None = None,
          options: SemanticsOptions | None = None) -> Segmenter:
    from genlens.semantics.registry import get_segmenter

    size = size or (tuple(real.image_size) if real is not None else None)
    extra = dict(options.segmenter_options) if options is not None else {}
    return get_segmenter(name, device=ctx.device, image_size=size, cache_dir=ctx.cache_dir, **extra)
