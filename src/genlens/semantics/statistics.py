"""Per-class segmentation statistics of real vs generated images, and the Fréchet Segmentation Distance.

Inputs are per-image class-area matrices ``(n, C)`` (fractions of the image's pixels, rows summing to
at most 1; see :func:`genlens.semantics.segmenter.class_areas`). Everything here is a pure function of
those two arrays.

Units: areas are **fractions** in ``[0, 1]``. Bau et al.'s code multiplies by 100 before fitting the
Gaussians, so their FSD is in percent² and equals ``1e4 *`` ours; :attr:`SemanticComparison.fsd_percent2`
gives that scale for comparison with published numbers.

Two statistics per class: the *mean area* (the paper's statistic) and the *presence* (fraction of
images with any pixel of the class; our extension). Mean area alone cannot tell "drawn less often"
from "drawn smaller"; presence separates them. Classes are ranked by a Welch z-score of the area
difference (difference / its standard error), so a common class with a small but certain deficit
outranks a rare class whose difference is within sampling noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from genlens.errors import InputError, TooFewSamplesError
from genlens.statistics import floor_over_splits, half_splits, multinomial_counts, percentile_interval

#: The smallest standard error used in z-scores: two constant columns that differ are "certain", not inf.
_MIN_SE = 1e-12


@dataclass(frozen=True)
class ClassStat:
    """Real vs generated statistics of one class; ``*_ci`` are bootstrap percentile intervals."""

    name: str
    index: int
    real_area: float
    fake_area: float
    area_diff: float
    area_diff_ci: tuple[float, float]
    area_ratio: float | None
    area_ratio_ci: tuple[float, float] | None
    real_presence: float
    fake_presence: float
    presence_diff: float
    presence_diff_ci: tuple[float, float]
    z: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = list(self.area_diff_ci)  # the CLI/JSON contract's name for the area-difference CI
        return d


@dataclass(frozen=True)
class SemanticComparison:
    """The distribution-level semantic comparison of a generated set against a real set.

    ``classes`` is sorted by ``z`` ascending: most under-represented first, most over-represented last.
    ``fsd_floor`` is the split-half real-vs-real FSD rescaled to this comparison's sample sizes (FSD is
    biased upwards roughly in proportion to ``1/n_real + 1/n_fake``); an FSD near it is sampling noise.
    """

    classes: tuple[ClassStat, ...]
    absent_classes: tuple[str, ...]
    fsd: float
    fsd_mean_term: float
    fsd_covariance_term: float
    fsd_floor: float | None
    fsd_floor_half: float | None
    n_real: int
    n_fake: int
    n_boot: int
    level: float
    seed: int
    presence_threshold: float
    units: str = "fraction"

    @property
    def fsd_percent2(self) -> float:
        """FSD on areas in percent, the scale of Bau et al.'s code (``1e4 * fsd``)."""
        return 1e4 * self.fsd

    def under_represented(self, k: int = 5, significant: bool = True) -> list[ClassStat]:
        """The ``k`` classes with the most negative z (only those whose area CI excludes 0 if ``significant``)."""
        picked = [c for c in self.classes if c.z < 0 and (not significant or c.area_diff_ci[1] < 0)]
        return picked[:k]

    def over_represented(self, k: int = 5, significant: bool = True) -> list[ClassStat]:
        """The ``k`` classes with the most positive z (only those whose area CI excludes 0 if ``significant``)."""
        picked = [c for c in reversed(self.classes) if c.z > 0 and (not significant or c.area_diff_ci[0] > 0)]
        return picked[:k]

    def by_name(self, name: str) -> ClassStat:
        """The statistics of the class called ``name``."""
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(f"class {name!r} is not in this comparison (absent from both sets or unknown)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "fsd": self.fsd,
            "fsd_percent2": self.fsd_percent2,
            "fsd_mean_term": self.fsd_mean_term,
            "fsd_covariance_term": self.fsd_covariance_term,
            "fsd_floor": self.fsd_floor,
            "fsd_floor_half": self.fsd_floor_half,
            "n_real": self.n_real,
            "n_fake": self.n_fake,
            "n_boot": self.n_boot,
            "level": self.level,
            "seed": self.seed,
            "presence_threshold": self.presence_threshold,
            "ranking": "Welch z of the mean-area difference (fake - real); negative = under-represented",
            "classes": [c.to_dict() for c in self.classes],
            "absent_classes": list(self.absent_classes),
            "under_represented": [c.name for c in self.under_represented()],
            "over_represented": [c.name for c in self.over_represented()],
        }


def fsd(real_areas: np.ndarray, fake_areas: np.ndarray) -> float:
    """Fréchet Segmentation Distance: Fréchet distance of Gaussians fitted to per-image class-area vectors.

    The one Fréchet implementation of :mod:`genlens.metrics` is reused. Columns empty in both sets are
    dropped first; they contribute exactly zero to the distance and only make the covariances singular.
    """
    return fsd_terms(real_areas, fake_areas)[0]


def fsd_terms(real_areas: np.ndarray, fake_areas: np.ndarray) -> tuple[float, float, float]:
    """``(fsd, mean_term, covariance_term)``: whether the sets differ in average areas or in their spread."""
    from genlens.metrics import frechet_distance

    real_areas, fake_areas = _check_pair(real_areas, fake_areas)
    keep = (real_areas != 0).any(0) | (fake_areas != 0).any(0)
    if not keep.any():
        return 0.0, 0.0, 0.0
    # Area rows sum to 1, so the covariances are singular by construction; the metric's eigh route is exact.
    result = frechet_distance(real_areas[:, keep], fake_areas[:, keep])
    value = _as_float(result)
    mean_term = float(getattr(result, "mean_term", np.nan))
    cov_term = float(getattr(result, "covariance_term", np.nan))
    return value, mean_term, cov_term


def split_half_fsd(areas: np.ndarray, splits: int = 5, seed: int = 0) -> float:
    """Mean FSD between two random halves of one set, over ``splits`` random splits: the noise floor."""
    areas = np.asarray(areas, dtype=np.float64)
    n = areas.shape[0]
    if n < 4:
        raise TooFewSamplesError("a split-half FSD floor", n, 4)
    return floor_over_splits(lambda a, b: fsd(areas[a], areas[b]), zip(*half_splits(n, splits, seed)))


def compare_areas(
    real_areas: np.ndarray,
    fake_areas: np.ndarray,
    class_names: Sequence[str],
    ignore_index: int | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    presence_threshold: float = 0.0,
    floor_splits: int = 5,
) -> SemanticComparison:
    """Compare per-class area and presence of generated vs real images, with CIs, z-ranking and FSD.

    A class is *present* in an image when its area fraction exceeds ``presence_threshold``.
    Classes empty in both sets are listed in ``absent_classes`` rather than ranked. ``ignore_index``
    (a "no object" label) is excluded from every statistic.
    """
    real_areas, fake_areas = _check_pair(real_areas, fake_areas)
    n_classes = real_areas.shape[1]
    if len(class_names) != n_classes:
        raise InputError(f"{len(class_names)} class names for {n_classes} area columns")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}")
    columns = [i for i in range(n_classes) if i != ignore_index]
    real_areas, fake_areas = real_areas[:, columns], fake_areas[:, columns]
    names = [str(class_names[i]) for i in columns]

    real_pres = (real_areas > presence_threshold).astype(np.float64)
    fake_pres = (fake_areas > presence_threshold).astype(np.float64)
    rng = np.random.default_rng(seed)
    boot_real = _bootstrap_means(np.concatenate([real_areas, real_pres], 1), n_boot, rng)
    boot_fake = _bootstrap_means(np.concatenate([fake_areas, fake_pres], 1), n_boot, rng)
    c = len(columns)

    real_mean, fake_mean = real_areas.mean(0), fake_areas.mean(0)
    diff = fake_mean - real_mean
    area_ci = percentile_interval(boot_fake[:, :c] - boot_real[:, :c], level)  # (c, 2)
    pres_ci = percentile_interval(boot_fake[:, c:] - boot_real[:, c:], level)
    se = np.sqrt(real_areas.var(0, ddof=1) / len(real_areas) + fake_areas.var(0, ddof=1) / len(fake_areas))
    z = diff / np.maximum(se, _MIN_SE)

    stats: list[ClassStat] = []
    absent: list[str] = []
    for j, name in enumerate(names):
        if real_mean[j] == 0 and fake_mean[j] == 0:
            absent.append(name)
            continue
        ratio, ratio_ci = _ratio(real_mean[j], fake_mean[j], boot_real[:, j], boot_fake[:, j], level)
        stats.append(
            ClassStat(
                name=name,
                index=columns[j],
                real_area=float(real_mean[j]),
                fake_area=float(fake_mean[j]),
                area_diff=float(diff[j]),
                area_diff_ci=(float(area_ci[j, 0]), float(area_ci[j, 1])),
                area_ratio=ratio,
                area_ratio_ci=ratio_ci,
                real_presence=float(real_pres[:, j].mean()),
                fake_presence=float(fake_pres[:, j].mean()),
                presence_diff=float(fake_pres[:, j].mean() - real_pres[:, j].mean()),
                presence_diff_ci=(float(pres_ci[j, 0]), float(pres_ci[j, 1])),
                z=float(z[j]),
            )
        )
    stats.sort(key=lambda s: s.z)

    floor_half = split_half_fsd(real_areas, floor_splits, seed) if len(real_areas) >= 4 else None
    floor = None
    if floor_half is not None:
        half = len(real_areas) // 2
        floor = floor_half * (1 / len(real_areas) + 1 / len(fake_areas)) / (2 / half)
    value, mean_term, cov_term = fsd_terms(real_areas, fake_areas)
    return SemanticComparison(
        classes=tuple(stats),
        absent_classes=tuple(absent),
        fsd=value,
        fsd_mean_term=mean_term,
        fsd_covariance_term=cov_term,
        fsd_floor=floor,
        fsd_floor_half=floor_half,
        n_real=len(real_areas),
        n_fake=len(fake_areas),
        n_boot=n_boot,
        level=level,
        seed=seed,
        presence_threshold=presence_threshold,
    )


def _check_pair(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for what, a in (("real", real), ("generated", fake)):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2:
            raise InputError(f"{what} class areas must be a 2-D (n_images, n_classes) array, got {a.shape}")
        if a.shape[0] < 2:
            raise TooFewSamplesError(f"semantic statistics of the {what} set", a.shape[0], 2)
        if not np.isfinite(a).all():
            raise InputError(f"{what} class areas contain NaN or Inf")
        arrays.append(a)
    if arrays[0].shape[1] != arrays[1].shape[1]:
        raise InputError(
            f"real and generated class areas have {arrays[0].shape[1]} and {arrays[1].shape[1]} classes; "
            "segment both with the same segmenter"
        )
    return arrays[0], arrays[1]


def _bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Column means of ``n_boot`` row-resamples, ``(n_boot, d)``: multinomial counts times the data.

    Drawing resample *counts* turns every replicate into one matrix product; blocks bound memory.
    """
    n = values.shape[0]
    block = max(1, min(n_boot, 4_000_000 // max(n, 1)))
    out = np.empty((n_boot, values.shape[1]))
    for lo in range(0, n_boot, block):
        hi = min(lo + block, n_boot)
        out[lo:hi] = multinomial_counts(n, hi - lo, rng).astype(np.float64) @ values / n
    return out


def _ratio(
    real_mean: float, fake_mean: float, boot_real: np.ndarray, boot_fake: np.ndarray, level: float
) -> tuple[float | None, tuple[float, float] | None]:
    """fake/real area with a bootstrap CI; undefined (None) when the class never appears in real images."""
    if real_mean == 0:
        return None, None
    ok = boot_real > 0
    ratios = boot_fake[ok] / boot_real[ok]
    if ratios.size == 0:
        return float(fake_mean / real_mean), None
    lo, hi = percentile_interval(ratios, level)
    return float(fake_mean / real_mean), (float(lo), float(hi))


def _as_float(value: Any) -> float:
    """``genlens.metrics.frechet_distance`` may return a float or a result object with a ``value``."""
    for attr in ("value", "distance", "fd"):
        if hasattr(value, attr):
            return float(getattr(value, attr))
    return float(value)
