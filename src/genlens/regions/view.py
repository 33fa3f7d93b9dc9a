"""The regions view: pixel clusters of the real data by pairwise CKA, and the cluster-wise CMS of a generator.

``fit`` clusters the real images' pixels (or loads a saved partition) and fixes the RBF bandwidth;
``compare`` splits the image CMS into cluster-wise CMS values with intervals and a noise floor;
``measure`` gives tracking the image CMS, the product of cluster CMS and each cluster's CMS.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from genlens._fs import atomic_path, atomic_write_text
from genlens.io.base import ImageSource
from genlens.regions.analysis import (
    RealRegions,
    build_partition,
    compare_regions,
    fit_regions,
)
from genlens.regions.cms import CmsPlan, cluster_cms
from genlens.regions.figures import KEY, TITLE
from genlens.regions.partition import PixelPartition
from genlens.regions.representation import (
    PIXELS,
    Representation,
    extractor_of,
    feature_maps,
    mean_image,
    plan_maps,
    representation_for,
)
from genlens.regions.result import TEST_FAMILY, RegionsResult
from genlens.regions.spatial import images_to_spatial
from genlens.views.base import (
    Measurement,
    Measurements,
    RunContext,
    StepEvidence,
    View,
    size_mismatch,
)
from genlens.views.options import option
from genlens.views.section import Section

#: At least this many images per set: the noise floor splits the real set in halves.
MIN_IMAGES = 8


@dataclass(frozen=True)
class RegionsOptions:
    representation: str | None = option(
        None, "What to cluster and compare: pixels, or a feature map '<feature space>:<layer>' such as "
        "random-vgg16:features.8 (relu2_2 of a random VGG-16) or torchvision:resnet18:layer1. Default: the "
        "images' own (pixels for zoo scenes), else random-vgg16:features.8, which sees blur and texture that "
        "pixels miss.")
    clusters: int | None = option(None, "Number of pixel clusters (default: the largest-gap rule on the dendrogram, "
                                  "2..--k-max).", short="-k", min=1)
    k_max: int = option(12, "Upper bound for the automatic number of clusters.", min=2)
    partition: str | None = option(None, "Reuse a saved partition (.npz or .json) instead of clustering REAL again "
                                   "(same clusters and bandwidth).")
    distance: Literal["profile", "one_minus_cka"] = option(
        "profile", "Clustering distance: profile (Euclidean between CKA rows, the paper) or one_minus_cka.")
    cka_estimator: Literal["biased", "unbiased"] = option("biased", "HSIC estimator for CKA: biased or unbiased.")
    cka_batch: int = option(100, "Images per CKA batch (0 = pool all images).", min=0)
    estimator: Literal["biased", "unbiased"] = option("biased", "CMS estimator: biased (V-statistic) or unbiased.")
    mode: Literal["pooled", "minibatch"] = option("pooled", "CMS form: pooled, or minibatch (averaged over batch pairs).")
    bandwidth_scale: float = option(1.0, "Multiply the median-heuristic bandwidth; < 1 makes CMS more sensitive to "
                                    "fine/noise defects.", min=1e-6)
    max_images: int | None = option(2000, "Use at most the first N images of each input.", flag="--n", min=8)
    n_boot: int = option(200, "Bootstrap resamples for the CIs (0 = none).", min=0)
    level: float = option(0.95, "Confidence level of the CIs.", min=0.5, max=0.999)


@dataclass(eq=False)
class FittedRegions:
    """The regions view's reference: the options, the fitted real side, and the network of a feature-map
    representation (``None`` for pixels)."""

    options: RegionsOptions
    real: RealRegions
    extractor: Any = None
    shrunk: str | None = None  # why fewer images than asked were compared (memory), when they were


class RegionsView(View):
    key = KEY
    title = TITLE
    Options = RegionsOptions
    tracks = True
    families = (TEST_FAMILY,)

    def applies(self, real: ImageSource, fake: ImageSource | None, options: RegionsOptions) -> str | None:
        """Pixel-by-pixel comparison needs real and fake images of one size."""
        if fake is not None and (mismatch := size_mismatch(real.image_size, fake.image_size, "regions")):
            return mismatch
        if min(len(real), len(fake) if fake is not None else MIN_IMAGES) < MIN_IMAGES:
            return f"regions needs at least {MIN_IMAGES} real and {MIN_IMAGES} fake images"
        return None

    def plan(self, passes: Any, real: ImageSource, fake: ImageSource, options: RegionsOptions, ctx: RunContext,
             fitted: bool) -> None:
        """The feature maps of both sets (of ``fake`` alone once fitted), when a network gives them."""
        rep = representation_for(real, options.representation)
        for source in (fake,) if fitted else (real, fake):
            plan_maps(passes, source, rep, options.max_images, ctx.seed)

    def fit(self, real: ImageSource, options: RegionsOptions, ctx: RunContext) -> FittedRegions:
        rep = representation_for(real, options.representation)
        partition = PixelPartition.load(options.partition) if options.partition else None
        data, info, extractor = real, None, None
        shrunk = None
        if not rep.is_pixels:
            data, info, extractor = feature_maps(real, rep, options.max_images, ctx.device, ctx.seed,
                                                 cache_dir=ctx.cache_dir, passes=ctx.passes, fit_memory=True)
            wanted = min(len(real), options.max_images or len(real))
            if info["n_used"] < wanted:  # both sets then use the images that fit
                shrunk = (
                    f"regions compared the first {info['n_used']} images of each set, not {wanted}: maps of "
                    f"{wanted} images of {rep.name} need more memory than is free (choose with --n, or --set "
                    "regions.max_images=N in a report; fewer images widen the intervals)"
                )
                options = replace(options, max_images=info["n_used"])
        fitted = fit_regions(data, partition, options.clusters, options.bandwidth_scale, options.max_images,
                             ctx.device, distance=options.distance, k_max=options.k_max,
                             estimator=options.cka_estimator, batch_size=options.cka_batch or None)
        if not rep.is_pixels:
            h, w = fitted.partition.image_size
            site = (real.image_size[0] // h, real.image_size[1] // w)
            fitted = replace(fitted, info=info, mean_real=mean_image(real, options.max_images),
                             representation=rep.name, site=site)
        return FittedRegions(options, fitted, extractor, shrunk)

    def section(self, reference: FittedRegions, fake: ImageSource, ctx: RunContext) -> Section:
        section = self.compare(reference, fake, ctx).to_section()
        if reference.shrunk is None:
            return section
        return replace(section, warnings=section.warnings + (reference.shrunk,))

    def compare(self, reference: FittedRegions, fake: ImageSource, ctx: RunContext) -> RegionsResult:
        opts = reference.options
        plan = CmsPlan(estimator=opts.estimator, mode=opts.mode, n_boot=opts.n_boot, level=opts.level, seed=ctx.seed)
        if reference.extractor is None:
            return compare_regions(reference.real, fake, plan, opts.max_images, ctx.device).judged(ctx.alpha)
        rep = Representation.parse(reference.real.representation)
        maps, info, _ = feature_maps(fake, rep, opts.max_images, ctx.device, ctx.seed, reference.extractor,
                                     passes=ctx.passes)
        return compare_regions(reference.real, maps, plan, opts.max_images, ctx.device, fake_info=info).judged(ctx.alpha)

    # -- tracking ---------------------------------------------------------------------------------------
    def fit_tracking(self, real: ImageSource, options: RegionsOptions, ctx: RunContext) -> FittedRegions:
        """The partition of all ``max_images`` real images (not the report's first 1000), fixed for every step."""
        rep = representation_for(real, options.representation)
        n = min(len(real), options.max_images or len(real))
        data, extractor = real.read(0, n), None
        if not rep.is_pixels:
            data, _, extractor = feature_maps(real, rep, n, ctx.device, ctx.seed, cache_dir=ctx.cache_dir)
        partition = (PixelPartition.load(options.partition) if options.partition else
                     build_partition(data, clusters=options.clusters, distance=options.distance,
                                     k_max=options.k_max, max_images=None, device=ctx.device))
        fitted = fit_regions(data, partition, bandwidth_scale=options.bandwidth_scale, max_images=None,
                             device=ctx.device)
        return FittedRegions(options, replace(fitted, representation=rep.name), extractor)

    def _spatial(self, reference: FittedRegions, images: torch.Tensor, ctx: RunContext) -> torch.Tensor:
        """One step's images in the reference's representation."""
        if reference.real.representation == PIXELS:
            return images_to_spatial(images)
        from genlens.io import ArraySource

        rep = Representation.parse(reference.real.representation)
        if reference.extractor is None:  # a reference loaded from disk: the network is rebuilt once per process
            reference.extractor = extractor_of(rep, ctx.device, ctx.seed)
        return feature_maps(ArraySource(images, name="samples"), rep, None, ctx.device, ctx.seed,
                            reference.extractor, passes=ctx.passes, planned_on=images)[0]

    def plan_measure(self, passes: Any, reference: FittedRegions, images: torch.Tensor, ctx: RunContext) -> None:
        """A step's feature maps, when a network gives them."""
        if reference.real.representation != PIXELS:
            plan_maps(passes, images, Representation.parse(reference.real.representation), None, ctx.seed)

    def measure(self, reference: FittedRegions, images: torch.Tensor, ctx: RunContext, n_boot: int = 20) -> Measurements:
        from genlens.statistics import standard_error

        real = reference.real
        plan = CmsPlan(n_boot=n_boot if n_boot >= 2 else 0, floor_splits=0, seed=ctx.seed, resample="fake")
        est = cluster_cms(real.spatial, self._spatial(reference, images, ctx), real.partition.labels, real.gamma,
                          plan, device=ctx.device)
        boot = plan.n_boot > 0
        values = {
            f"{KEY}/cms": Measurement(est.image, standard_error(est.boot_image) if boot else np.nan, True),
            f"{KEY}/cms_product": Measurement(est.product, standard_error(est.boot_product) if boot else np.nan, True),
        }
        cluster_se = standard_error(est.boot_clusters, axis=0) if boot else np.full(len(est.clusters), np.nan)
        values.update({cluster_metric(j): Measurement(float(c), float(se), None)
                       for j, (c, se) in enumerate(zip(est.clusters, cluster_se))})
        return Measurements(values)

    def direction(self, metric: str) -> bool | None:
        return True if metric in (f"{KEY}/cms", f"{KEY}/cms_product") else None

    def save_reference(self, reference: FittedRegions, folder: Path) -> None:
        real = reference.real
        reference.real.partition.save(folder / "partition.npz")
        with atomic_path(folder / "spatial.npz") as tmp:  # the real side as compared: pixels or a feature map
            with open(tmp, "wb") as f:
                np.savez_compressed(f, spatial=real.spatial.numpy())
        header = {"options": asdict(reference.options), "gamma": real.gamma, "info": real.info,
                  "representation": real.representation}
        atomic_write_text(folder / "regions.json", json.dumps(header, default=str))

    def load_reference(self, folder: Path, ctx: RunContext) -> FittedRegions:
        header = json.loads((folder / "regions.json").read_text())
        options = self.options(header["options"])
        with np.load(folder / "spatial.npz", allow_pickle=False) as z:
            spatial = torch.from_numpy(np.array(z["spatial"]))
        partition = PixelPartition.load(folder / "partition.npz")
        fitted = fit_regions(spatial, partition, bandwidth_scale=options.bandwidth_scale, max_images=None)
        return FittedRegions(options, replace(fitted, representation=header["representation"]))

    def describe_reference(self, reference: FittedRegions) -> dict[str, Any]:
        p = reference.real.partition
        return {"partition": {"k": p.k, "labels": p.labels.tolist(), "gamma": reference.real.gamma}}

    def causes(self, reference: FittedRegions, evidence: StepEvidence, metric: str) -> list[dict[str, Any]]:
        """Clusters by their exact share of the fall of ``log(product of cluster CMS)``."""
        from genlens.regions.tracking import cluster_causes

        return cluster_causes(evidence)

    def track_sections(self, result: Any) -> list[Any]:
        from genlens.regions.tracking import track_section

        return track_section(result)


def cluster_metric(j: int) -> str:
    """Tracking name of cluster ``j``'s CMS."""
    return f"{KEY}/cluster_{j:02d}"

