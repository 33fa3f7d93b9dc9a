"""The semantics view end to end: image sources in, result objects (with figures) out.

:func:`compare_sources` segments a real and a generated set and compares their class statistics;
:func:`invert_and_inspect` runs layer inversion on real images and the instance view on the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlens.budget import DEFAULT_ALPHA, Family, holm
from genlens.statistics import two_sided_p
from genlens.errors import InputError
from genlens.io.base import ImageSource
from genlens.views.section import Figure, Finding, Section, Table
from genlens.semantics.encoder import EncoderTraining, LayerEncoder, train_encoder
from genlens.semantics.instance import InstanceView, instance_view
from genlens.semantics.inversion import Inversion, invert_images
from genlens.semantics.segmenter import Segmenter, ignored_class, segment_source, segmenter_name
from genlens.semantics.split import GeneratorSplit
from genlens.semantics.statistics import SemanticComparison, compare_areas


KEY = "semantics"
TITLE = "Semantics: classes the generator omits or over-produces"
#: The family of tests the view's findings are corrected in (genlens.budget).
TEST_FAMILY = f"{KEY}/classes"


@dataclass(frozen=True)
class SemanticsResult:
    """A real-vs-generated semantic comparison with its provenance."""

    comparison: SemanticComparison
    segmenter: str
    classes: tuple[str, ...]
    image_size: tuple[int, int]
    inputs: dict[str, Any]
    alpha: float = DEFAULT_ALPHA  # the view's share of the false-alarm budget

    def to_dict(self) -> dict[str, Any]:
        return {
            "segmenter": self.segmenter,
            "segmented_size": list(self.image_size),
            "inputs": self.inputs,
            **self.comparison.to_dict(),
        }

    def figures(self) -> list[Figure]:
        from genlens.semantics.figures import area_figure, presence_figure

        if not self.comparison.classes:
            return []
        return [area_figure(self.comparison), presence_figure(self.comparison)]

    #: The test behind a class's finding.
    TEST = "per-class mean area, generated vs real images, Welch z (two-sided)"

    def family(self) -> Family:
        return Family(TEST_FAMILY, self.alpha, len(self.comparison.classes), "Holm")

    def findings(self) -> tuple[Finding, ...]:
        """A ``class`` finding per class: its area gap in noise units (Welch z over images) and its
        two-sided p-value, significant when Holm's adjusted p-value over the classes is within the
        view's share of the budget."""
        family = self.family()
        p_values = [two_sided_p(s.z) for s in self.comparison.classes]
        adjusted = holm(p_values)
        out = []
        for s, p, q in zip(self.comparison.classes, p_values, adjusted):
            way = "fewer" if s.area_diff < 0 else "more"
            sentence = (f"{s.name}: generated area {s.fake_area:.4f} vs real {s.real_area:.4f} ({way}; present in "
                        f"{s.fake_presence:.0%} of generated vs {s.real_presence:.0%} of real images)")
            out.append(Finding(KEY, "class", s.name, float(abs(s.z)), bool(q <= family.alpha), sentence,
                               test=self.TEST, p=p, family=family.name, p_family=float(q), alpha=family.alpha))
        return tuple(out)

    def to_section(self) -> Section:
        """The report's semantics section: the per-class table, the figures and the summary."""
        c = self.comparison
        rows = tuple(
            (s.name, round(s.real_area, 4), round(s.fake_area, 4), round(s.area_diff, 4),
             f"[{s.area_diff_ci[0]:+.4f}, {s.area_diff_ci[1]:+.4f}]", round(s.real_presence, 3),
             round(s.fake_presence, 3), round(s.z, 1))
            for s in c.classes
        )
        table = Table(columns=("class", "real area", "fake area", "diff", "diff CI", "real presence",
                               "fake presence", "z"), rows=rows)
        return Section(key=KEY, title=TITLE, summary=self.summary(), figures=tuple(self.figures()),
                       table=table, data=self.to_dict(), findings=self.findings(), families=(self.family(),))

    def summary(self) -> str:
        """One sentence with the key finding, from the same evidence as the table: the classes beyond noise."""
        c = self.comparison
        floor = "n/a" if c.fsd_floor is None else f"{c.fsd_floor:.3g}"
        head = f"FSD {c.fsd:.3g} (real split-half floor {floor})"
        found = [f for f in self.findings() if f.significant]
        if not found:
            return f"{head}; no class's area differs from the real images beyond noise."
        fewer = [f.where for f in found if "(fewer;" in f.sentence]
        more = [f.where for f in found if "(more;" in f.sentence]
        return (f"{head}; under-represented beyond noise: {', '.join(fewer) or 'none'}; over-represented: "
                f"{', '.join(more) or 'none'}.")


def common_size(real: ImageSource, fake: ImageSource) -> tuple[int, int]:
    """Both sets are segmented at one size: the smaller of the two (never upsample one side only)."""
    (hr, wr), (hf, wf) = real.image_size, fake.image_size
    return (hr, wr) if hr * wr <= hf * wf else (hf, wf)


def compare_sources(
    real: ImageSource,
    fake: ImageSource,
    segmenter: Segmenter,
    size: tuple[int, int] | None = None,
    batch_size: int = 64,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    presence_threshold: float = 0.0,
    max_images: int | None = None,
) -> SemanticsResult:
    """Segment both sets at one size and compare their per-class statistics (see :func:`compare_areas`).

    ``max_images`` uses only the first images of each set (compare models at equal counts: FSD is biased).
    """
    size = tuple(size) if size is not None else common_size(real, fake)  # type: ignore[assignment]
    real_areas = segment_source(real, segmenter, batch_size, size, "segmenting real images", max_images)
    return compare_areas_of(real, real_areas, fake, segmenter, size, batch_size, n_boot, level, seed,
                            presence_threshold, max_images)


def compare_areas_of(
    real: ImageSource,
    real_areas: np.ndarray,
    fake: ImageSource,
    segmenter: Segmenter,
    size: tuple[int, int],
    batch_size: int = 64,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    presence_threshold: float = 0.0,
    max_images: int | None = None,
) -> SemanticsResult:
    """Segment ``fake`` at ``size`` and compare it with real class areas segmented at that size."""
    fake_areas = segment_source(fake, segmenter, batch_size, size, "segmenting generated images", max_images)
    comparison = compare_areas(
        real_areas, fake_areas, segmenter.classes, ignore_index=ignored_class(segmenter), n_boot=n_boot,
        level=level, seed=seed, presence_threshold=presence_threshold,
    )
    return SemanticsResult(
        comparison=comparison,
        segmenter=segmenter_name(segmenter),
        classes=tuple(str(c) for c in segmenter.classes),
        image_size=(int(size[0]), int(size[1])),
        inputs={"real": real.describe(), "fake": fake.describe()},
    )


@dataclass(frozen=True)
class InversionResult:
    """Layer inversion of real images plus, when a segmenter was given, the instance view."""

    inversion: Inversion
    encoder: EncoderTraining
    view: InstanceView | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inversion": self.inversion.to_dict(), "encoder": self.encoder.to_dict()}
        if self.view is not None:
            out["instances"] = self.view.to_dict()
        return out

    def figures(self, max_rows: int = 6) -> list[Figure]:
        from genlens.semantics.figures import instance_figure

        return [] if self.view is None else [instance_figure(self.view, max_rows=max_rows)]


def invert_and_inspect(
    split: GeneratorSplit,
    images: torch.Tensor | np.ndarray,
    segmenter: Segmenter | None = None,
    encoder: tuple[LayerEncoder, EncoderTraining] | None = None,
    encoder_steps: int = 300,
    steps: int = 300,
    lambda_reg: float = 0.1,
    seed: int = 0,
    min_area: float = 0.02,
    keep_fraction: float = 0.25,
    feature_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    feature_weight: float = 1.0,
) -> InversionResult:
    """Train (or reuse) the layer encoder, invert ``images`` through ``G_f``, and find lost classes.

    ``feature_fn`` (images in ``[-1, 1]`` -> features) adds the optional feature-space reconstruction loss.
    """
    images = torch.as_tensor(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise InputError(f"expected a non-empty uint8 (n, 3, H, W) image batch, got shape {tuple(images.shape)}")
    out_hw = split.shapes()[-1][1:]
    if tuple(images.shape[-2:]) != tuple(out_hw):
        from genlens.io.preprocess import resize_uint8

        images = resize_uint8(images, out_hw)
    enc, record = encoder if encoder is not None else train_encoder(split, steps=encoder_steps, seed=seed)
    inversion = invert_images(split, enc, images, steps=steps, lambda_reg=lambda_reg, feature_fn=feature_fn,
                              feature_weight=feature_weight)
    view = None
    if segmenter is not None:
        view = instance_view(inversion.images, inversion.reconstructions, segmenter, min_area=min_area,
                             keep_fraction=keep_fraction, l1=inversion.l1_final)
    return InversionResult(inversion=inversion, encoder=record, view=view)
