"""The regions view's result: the partition, per-cluster CMS with CIs, floors and shares."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from genlens._json import json_safe
from genlens.budget import DEFAULT_ALPHA, Family, holm
from genlens.regions.cms import CmsEstimates, CmsPlan
from genlens.regions.partition import PixelPartition
from genlens.statistics import one_sided_p, recentred_interval


#: The test behind a cluster's finding.
CLUSTER_TEST = ("cluster CMS below its real-vs-real floor, normal with the bootstrap SE over images of both "
                "estimates (one-sided)")
#: The family of tests the view's findings are corrected in (genlens.budget).
TEST_FAMILY = "regions/clusters"


@dataclass(frozen=True)
class ClusterScore:
    """One cluster: its CMS, CI, real-vs-real floor, share of ``-log CMS`` and deficit.

    ``deficit = log(floor) - log(cms)``: how far below the real-vs-real value the cluster sits, in the
    units of ``-log CMS`` (0 = as good as a second real sample; the shares of these add up).
    """

    id: int
    cms: float
    ci: tuple[float, float]
    floor: float
    share: float
    n_pixels: int
    level: float = 0.95
    n_tests: int = 1  # clusters judged together: their p-values are Holm-adjusted as one family
    p_family: float = float("nan")  # Holm's adjusted p over the clusters judged
    alpha: float = DEFAULT_ALPHA  # the view's share of the false-alarm budget

    @property
    def deficit(self) -> float:
        """``log(floor / cms)``; ``-log cms`` when no floor was computed (``floor_splits=0``)."""
        floor = self.floor if np.isfinite(self.floor) and self.floor > 0 else 1.0
        return float(np.log(floor) - np.log(self.cms))

    @property
    def severity(self) -> float:
        """Deficit in units of the CI half-width (log scale): how many "noise widths" below the floor."""
        half = 0.5 * (np.log(self.ci[1]) - np.log(self.ci[0])) if self.ci[1] > self.ci[0] > 0 else float("nan")
        return self.deficit / half if np.isfinite(half) and half > 0 else self.deficit

    @property
    def score(self) -> float:
        """The deficit in noise units: the floor is itself one real-vs-real estimate at the same sample
        size, with about the same sampling error as the cluster's CMS, so their difference has
        ``sqrt(2)`` times the cluster's standard error (its CI half-width over ``z`` of the level)."""
        from genlens.statistics import z_of_level

        return float(self.severity * z_of_level(self.level) / np.sqrt(2.0))

    @property
    def p(self) -> float:
        """The one-sided normal p-value of :attr:`score` (NaN without a floor)."""
        return one_sided_p(self.score) if np.isfinite(self.floor) else float("nan")

    @property
    def significant(self) -> bool:
        """Holm's adjusted p-value over the clusters judged (``p_family``) is within the view's share of
        the budget (``alpha``): one threshold per cluster would call a defect-free generator broken
        somewhere in a 12-cluster partition about a third of the time."""
        return bool(np.isfinite(self.floor) and self.p_family <= self.alpha)

    def box(self, labels: np.ndarray) -> list[int]:
        """``[top, left, bottom, right]`` (end-exclusive) of this cluster's pixels in ``labels``."""
        ys, xs = np.nonzero(np.asarray(labels) == self.id)
        return [int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1]

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "id": self.id,
                "cms": self.cms,
                "ci": list(self.ci),
                "share": self.share,
                "n_pixels": self.n_pixels,
                "floor": self.floor,
                "deficit": self.deficit,
                "severity": self.severity,
                "score": self.score,
                "p": self.p,
                "p_family": self.p_family,
                "significant": self.significant,
            }
        )


@dataclass(frozen=True, eq=False)
class RegionsResult:
    """Everything the regions view found; ``to_dict()`` is the CLI's JSON, ``to_section()`` the report's."""

    partition: PixelPartition
    clusters: tuple[ClusterScore, ...]
    image: float
    image_ci: tuple[float, float]
    image_floor: float
    product: float
    product_ci: tuple[float, float]
    gamma: float
    bandwidth_scale: float
    plan: CmsPlan
    n_real: int
    n_fake: int
    mean_real: np.ndarray | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    representation: str = "pixels"
    site: tuple[int, int] = (1, 1)  # input pixels per site of the representation
    gap_ci: tuple[float, float] = (float("nan"), float("nan"))  # interval of log(image CMS / product)
    floor_gap: float = float("nan")  # the same gap between two halves of the real set
    alpha: float = DEFAULT_ALPHA  # the view's share of the false-alarm budget (set by judged())

    @classmethod
    def from_estimates(
        cls,
        est: CmsEstimates,
        partition: PixelPartition,
        gamma: float,
        bandwidth_scale: float,
        plan: CmsPlan,
        n_real: int,
        n_fake: int,
        mean_real: np.ndarray | None = None,
        inputs: dict[str, Any] | None = None,
        representation: str = "pixels",
        site: tuple[int, int] = (1, 1),
    ) -> RegionsResult:
        """Summarise raw estimates: CIs re-centred on the point estimate, shares of ``-log CMS``."""
        sizes = partition.sizes
        cis = [recentred_interval(est.clusters[j], est.boot_clusters[:, j], plan.level) for j in range(partition.k)]
        shares = log_shares(est.clusters)
        clusters = tuple(
            ClusterScore(j, float(est.clusters[j]), cis[j], float(est.floor_clusters[j]), float(shares[j]), int(sizes[j]),
                         plan.level, partition.k)
            for j in range(partition.k)
        )
        return cls(
            partition=partition,
            clusters=clusters,
            image=est.image,
            image_ci=recentred_interval(est.image, est.boot_image, plan.level),
            image_floor=est.floor_image,
            product=est.product,
            product_ci=recentred_interval(est.product, est.boot_product, plan.level),
            gamma=gamma,
            bandwidth_scale=bandwidth_scale,
            plan=plan,
            n_real=n_real,
            n_fake=n_fake,
            mean_real=mean_real,
            inputs=inputs or {},
            representation=representation,
            site=tuple(site),
            gap_ci=_gap_interval(est, plan.level),
            floor_gap=float(np.log(est.floor_image) - np.log(est.floor_clusters).sum())
            if est.floor_image > 0 and np.all(est.floor_clusters > 0) else float("nan"),
        ).judged(DEFAULT_ALPHA)

    def judged(self, alpha: float) -> RegionsResult:
        """The clusters' p-values Holm-adjusted as one family at ``alpha`` (the view's share of the budget)."""
        adjusted = holm([c.p for c in self.clusters])
        clusters = tuple(replace(c, p_family=float(q), alpha=alpha) for c, q in zip(self.clusters, adjusted))
        return replace(self, clusters=clusters, alpha=alpha)

    def family(self) -> Family:
        return Family(TEST_FAMILY, self.alpha, int(sum(np.isfinite(c.p) for c in self.clusters)), "Holm")

    @property
    def worst(self) -> ClusterScore:
        """The cluster furthest below its real-vs-real floor, in units of its own CI (``severity``).

        Large clusters have lower CMS and wider CIs even for a perfect generator, so neither the lowest
        CMS nor the largest raw deficit is a fair pick across clusters of different sizes.
        """
        return max(self.clusters, key=lambda c: c.severity)

    def to_dict(self) -> dict[str, Any]:
        part = self.partition.to_dict()
        return json_safe(
            {
                "partition": {key: part[key] for key in ("k", "labels", "sizes", "max_cross_cka", "image_size", "meta")},
                "cms": {
                    "image": self.image,
                    "image_ci": list(self.image_ci),
                    "image_floor": self.image_floor,
                    "product": self.product,
                    "product_ci": list(self.product_ci),
                    "estimator": self.plan.estimator,
                    "mode": self.plan.mode,
                    "level": self.plan.level,
                    "clusters": [c.to_dict() for c in self.clusters],
                },
                "worst_cluster": self.worst.id,
                "decomposition": {"gap": self.gap, "gap_ci": list(self.gap_ci), "floor_gap": self.floor_gap,
                                  "factorises": self.factorises()},
                "representation": self.representation,
                "site": list(self.site),
                "gamma": self.gamma,
                "bandwidth_scale": self.bandwidth_scale,
                "median_sq_dist": self.partition.median_sq_dist,
                "n_real": self.n_real,
                "n_fake": self.n_fake,
                "n_boot": self.plan.n_boot,
                "floor_splits": self.plan.floor_splits,
                "seed": self.plan.seed,
                "inputs": self.inputs,
            }
        )

    def findings(self) -> tuple[Any, ...]:
        """A ``region`` finding per cluster: its bounding box in input pixels, its deficit in noise units."""
        from genlens.views.section import Finding

        out = []
        for c in self.clusters:
            if not np.isfinite(c.floor):
                continue
            top, left, bottom, right = self.box(c)
            sentence = (f"cluster {c.id} (rows {top}-{bottom - 1}, cols {left}-{right - 1}, {c.n_pixels} px): "
                        f"CMS {c.cms:.4f} vs real floor {c.floor:.4f}, {c.score:.1f} noise units")
            out.append(Finding("regions", "region", [top, left, bottom, right], c.score, c.significant, sentence,
                               test=CLUSTER_TEST, p=c.p, family=TEST_FAMILY, p_family=c.p_family,
                               alpha=c.alpha))
        return tuple(out)

    @property
    def gap(self) -> float:
        """``log(image CMS) - log(product of cluster CMS)``: 0 when the image CMS factorises into the clusters'."""
        return float(np.log(self.image) - np.log(self.product)) if self.image > 0 and self.product > 0 else float("nan")

    def factorises(self) -> bool:
        """Whether the product of cluster CMS is the image CMS within noise (the view's premise).

        The identity holds when the clusters' pixels are independent; with a narrow kernel the image
        kernel (a product over all pixels) is tiny for any two distinct images and the V-statistic's
        diagonal dominates the image CMS but not the clusters', so the two part ways even for two real
        samples. Within noise: the gap's bootstrap interval contains 0, or the gap is under 1% in log.
        """
        lo, hi = self.gap_ci
        return bool(abs(self.gap) < 0.01 or (np.isfinite(lo) and lo <= 0.0 <= hi))

    def box(self, cluster: ClusterScore) -> list[int]:
        """``[top, left, bottom, right]`` of a cluster in input-image pixels (end-exclusive)."""
        top, left, bottom, right = cluster.box(self.partition.labels)
        sy, sx = self.site
        return [top * sy, left * sx, bottom * sy, right * sx]

    def image_labels(self) -> np.ndarray:
        """The partition drawn back on the input grid: each site's label repeated over the pixels it covers."""
        sy, sx = self.site
        return np.repeat(np.repeat(self.partition.labels, sy, axis=0), sx, axis=1)

    def deficit_map(self) -> np.ndarray:
        """``(H, W)``: each pixel carries its cluster's deficit ``log(floor / cms)``."""
        deficits = np.array([c.deficit for c in self.clusters])
        return deficits[self.image_labels()]

    def to_section(self) -> Any:
        """The report section (figures drawn here; see :mod:`genlens.regions.figures`)."""
        from genlens.regions.figures import regions_section

        return regions_section(self)


def _gap_interval(est: CmsEstimates, level: float) -> tuple[float, float]:
    """Interval of ``log(image) - log(product)`` from the same bootstrap replicates."""
    if est.boot_image.size == 0 or est.image <= 0 or est.product <= 0:
        return float("nan"), float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = np.log(est.boot_image) - np.log(est.boot_product)
    point = float(np.log(est.image) - np.log(est.product))
    return recentred_interval(point, reps[np.isfinite(reps)], level)


def log_shares(values: np.ndarray) -> np.ndarray:
    """Each cluster's share of ``-log prod CMS_j``; all zeros when the product is exactly 1."""
    logs = -np.log(np.asarray(values, dtype=np.float64))
    total = logs.sum()
    return logs / total if total != 0 else np.zeros_like(logs)

