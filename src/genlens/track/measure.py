"""One step's diagnostics: generated images -> flat ``{metric: value}`` scalars against a reference.

Names are ``<view>/<quantity>`` so they group naturally in TensorBoard and in the report:

* ``metrics/fid``, ``metrics/kid``, ``metrics/precision`` ... -- standard metrics in the reference's
  feature space (the same :class:`~genlens.metrics.diagnostic.MetricsReference` the report uses,
  without bootstrap, which would cost more than the step itself).
* ``regions/cms`` (image CMS), ``regions/cms_product`` (product of the cluster CMS) and
  ``regions/cluster_<j>`` -- cluster-wise CMS under the fixed partition and bandwidth, in one pass.
* ``semantics/fsd`` and ``semantics/area/<class>`` -- Fréchet segmentation distance and the mean
  area fraction of every class in the generated images.
* ``atlas/<layer>/js`` and ``atlas/<layer>/js_floor`` -- divergence of the activation-atlas cell
  histograms on a map frozen at the reference, and its noise floor (:mod:`genlens.track.atlas`),
  with the per-cell counts as an array ``atlas/<layer>/counts``.

Every judged value also gets its measurement noise, ``se/<name>``: the bootstrap standard error
over resamples of the *generated* images only. The real side is the same at every step, so its own
sampling noise cancels in a step-to-step change; the generated side's does not, and it is what the
event rule (:mod:`genlens.track.events`) weighs a change against.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from genlens.errors import InputError
from genlens.track.atlas import js_layer
from genlens.track.reference import Reference

#: For every headline metric: is a larger value better? (Used by the event detector and the plots.)
HIGHER_IS_BETTER: dict[str, bool] = {
    "metrics/fid": False,
    "metrics/kid": False,
    "metrics/mmd": False,
    "metrics/cms": True,
    "metrics/is": True,
    "metrics/precision": True,
    "metrics/recall": True,
    "metrics/density": True,
    "metrics/coverage": True,
    "regions/cms": True,
    "regions/cms_product": True,
    "semantics/fsd": False,
}


def higher_is_better(metric: str) -> bool | None:
    """Direction of a headline metric (``None``: not judged for events, e.g. a noise floor or an area)."""
    if metric in HIGHER_IS_BETTER:
        return HIGHER_IS_BETTER[metric]
    return False if js_layer(metric) is not None else None


#: Prefix of a value's measurement noise (bootstrap standard error): ``se/metrics/fid``.
SE_PREFIX = "se/"


def se_metric(metric: str) -> str:
    """Name of the standard-error series of ``metric``."""
    return SE_PREFIX + metric


def cluster_metric(j: int) -> str:
    return f"regions/cluster_{j:02d}"


def area_metric(name: str) -> str:
    return f"semantics/area/{name}"


class Measurer:
    """Live objects (extractor, metrics reference, segmenter) built from a :class:`Reference`."""

    def __init__(self, reference: Reference, device: str | None = None, batch_size: int = 64) -> None:
        self.ref, self.device, self.batch_size = reference, device, batch_size
        self.n_boot, self.seed = reference.config.noise_boot, reference.config.seed
        diags = reference.config.diagnostics
        self._extractor = self._metrics_ref = self._segmenter = self._atlas = None
        self._real_spatial: torch.Tensor | None = None
        if "metrics" in diags:
            self._init_metrics()
        if "regions" in diags:
            from genlens.regions import images_to_spatial

            self._real_spatial = images_to_spatial(torch.from_numpy(reference.regions_images))
        if "semantics" in diags:
            from genlens.semantics import get_segmenter

            cfg = reference.config
            self._segmenter = get_segmenter(cfg.segmenter, device=device, **cfg.segmenter_options)
        if "atlas" in diags:
            from genlens.track.atlas import AtlasMeter

            self._atlas = AtlasMeter(reference.atlas, tuple(reference.image_size), device=device)

    def _init_metrics(self) -> None:
        from genlens.features import get_extractor
        from genlens.metrics.diagnostic import MetricsReference
        from genlens.report.feature_space import ZOO_FEATURES, FeatureSet

        ref = self.ref
        kwargs = dict(ref.config.feature_options)
        if ref.feature_space == ZOO_FEATURES:
            kwargs.setdefault("size", int(ref.image_size[0]))
        self._extractor = get_extractor(ref.feature_space, device=self.device, **kwargs)
        real = FeatureSet(ref.features, ref.logits, ref.real, ref.extractor)
        self._metrics_ref = MetricsReference(real, metrics=ref.config.metrics, n_boot=0, seed=ref.config.seed,
                                             device=self.device)

    def __call__(self, images: torch.Tensor) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """All configured diagnostics of uint8 ``(n, 3, H, W)`` generated images: scalars and arrays."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise InputError(f"expected uint8 (n, 3, H, W) samples, got {images.dtype} {tuple(images.shape)}")
        if images.shape[0] < 4:
            raise InputError(f"log at least 4 samples per step (got {images.shape[0]}); 100+ give stable numbers")
        images = self._to_reference_size(images)
        values: dict[str, float] = {}
        arrays: dict[str, np.ndarray] = {}
        if self._metrics_ref is not None:
            values.update(self._metrics(images))
        if self._real_spatial is not None:
            values.update(self._regions(images))
        if self._segmenter is not None:
            values.update(self._semantics(images))
        if self._atlas is not None:
            atlas_values, arrays = self._atlas(images, n_boot=self.n_boot)
            values.update(atlas_values)
        return values, arrays

    def _to_reference_size(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) == tuple(self.ref.image_size):
            return images
        from genlens.io import resize_uint8

        return resize_uint8(images, tuple(self.ref.image_size))

    def _metrics(self, images: torch.Tensor) -> dict[str, float]:
        from genlens.features import extract_features
        from genlens.io import ArraySource
        from genlens.report.feature_space import FeatureSet

        ext = self._extractor
        names = [ext.outputs[0], "logits"] if "logits" in ext.outputs[1:] else [ext.outputs[0]]
        out = extract_features(ArraySource(images, name="samples"), ext, cache_dir=False,
                               batch_size=self.batch_size, outputs=names)
        fake = FeatureSet(out[names[0]].reshape(len(images), -1), out.get("logits"), {}, self.ref.extractor)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # subset-size and rank warnings repeat at every step
            result = self._metrics_ref.compare(fake, floor=False)
            values = {f"metrics/{e.name}": float(e.value) for e in result.estimates}
            values.update(self._metrics_noise(fake))
        return values

    def _metrics_noise(self, fake: Any) -> dict[str, float]:
        """Bootstrap standard error of every metric over resamples of the generated features."""
        from genlens.statistics import resample_indices, standard_error

        ref = self._metrics_ref
        if self.n_boot < 2:
            return {}
        reps: dict[str, list[float]] = {}
        resamples = resample_indices(len(fake.features), self.n_boot, self.seed)
        if "kid" in ref.metrics:
            reps["kid"] = list(kid_replicates(ref.real.features, fake.features, resamples))
        for rows in resamples:
            for family in ref.metrics:
                if family == "kid":
                    continue
                if family == "is":
                    if fake.logits is not None:
                        reps.setdefault("is", []).append(float(ref._is(fake.logits[rows])))
                    continue
                for name, value in ref._scalars(family, ref.real.features, fake.features[rows], ref.real_stats).items():
                    reps.setdefault(name, []).append(value)
        return {se_metric(f"metrics/{name}"): standard_error(np.array(r)) for name, r in reps.items()}

    def _regions(self, images: torch.Tensor) -> dict[str, float]:
        from genlens.regions import CmsPlan, cluster_cms, images_to_spatial
        from genlens.statistics import standard_error

        plan = CmsPlan(n_boot=self.n_boot if self.n_boot >= 2 else 0, floor_splits=0, seed=self.seed, resample="fake")
        est = cluster_cms(self._real_spatial, images_to_spatial(images), self.ref.partition.labels,
                          float(self.ref.gamma), plan, device=self.device)
        values = {"regions/cms": est.image, "regions/cms_product": est.product}
        values.update({cluster_metric(j): float(c) for j, c in enumerate(est.clusters)})
        if plan.n_boot:
            values[se_metric("regions/cms")] = standard_error(est.boot_image)
            values[se_metric("regions/cms_product")] = standard_error(est.boot_product)
            cluster_se = standard_error(est.boot_clusters, axis=0)
            values.update({se_metric(cluster_metric(j)): float(se) for j, se in enumerate(cluster_se)})
        return values

    def _semantics(self, images: torch.Tensor) -> dict[str, float]:
        from genlens.semantics import class_areas, fsd
        from genlens.semantics.segmenter import segment_batch

        n_classes = len(self.ref.class_names)
        areas = np.concatenate([
            class_areas(segment_batch(self._segmenter, images[lo : lo + self.batch_size]), n_classes)
            for lo in range(0, len(images), self.batch_size)
        ])
        values = {"semantics/fsd": fsd(self.ref.real_areas, areas)}
        values.update({area_metric(c): float(a) for c, a in zip(self.ref.class_names, areas.mean(axis=0))})
        if self.n_boot >= 2:
            from genlens.statistics import bootstrap_se

            values[se_metric("semantics/fsd")] = bootstrap_se(lambda rows: fsd(self.ref.real_areas, areas[rows]),
                                                               len(areas), self.n_boot, self.seed)
            area_se = areas.std(axis=0, ddof=1) / np.sqrt(len(areas))  # the mean's standard error, exactly
            values.update({se_metric(area_metric(c)): float(se) for c, se in zip(self.ref.class_names, area_se)})
        return values


def kid_replicates(real: np.ndarray, fake: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    """KID's unbiased polynomial MMD² of ``real`` vs each resample of ``fake`` (rows ``resamples[b]``).

    The kernel matrices are computed once; a resample is a vector of multiplicities ``w``, so its
    estimate is ``mean K_xx + (w'K_yy w - w'diag K_yy) / (m(m-1)) - 2 mean_x K_xy w / m``, with the pairs
    of a draw with itself left out as the unbiased estimator leaves out the diagonal. Recomputing
    KID's 100 subsets per resample would cost a hundred times more.
    """
    from genlens.metrics.kernels import PolynomialKernel

    kernel = PolynomialKernel()
    x = torch.as_tensor(real, dtype=torch.float64)
    y = torch.as_tensor(fake, dtype=torch.float64)
    n, m = len(x), len(y)
    kxx = kernel(x, x)
    xx = float((kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1)))
    kyy, kxy_mean = kernel(y, y), kernel(x, y).mean(0)
    counts = torch.zeros(len(resamples), m, dtype=torch.float64)
    counts.scatter_add_(1, torch.as_tensor(resamples), torch.ones(resamples.shape, dtype=torch.float64))
    yy = (((counts @ kyy) * counts).sum(1) - counts @ kyy.diagonal()) / (m * (m - 1))
    xy = counts @ kxy_mean / m
    return (xx + yy - 2.0 * xy).numpy()


def describe_reference(ref: Reference) -> dict[str, Any]:
    """What a reader of the results needs to know about the reference (JSON-safe)."""
    out: dict[str, Any] = {"key": ref.key, "config": ref.config.to_dict(), "real": ref.real,
                           "image_size": list(ref.image_size)}
    if ref.feature_space:
        out["feature_space"] = ref.feature_space
    if ref.partition is not None:
        out["partition"] = {"k": ref.partition.k, "labels": ref.partition.labels.tolist(), "gamma": ref.gamma}
    if ref.class_names:
        out["classes"] = list(ref.class_names)
        out["real_area"] = ref.real_area
    if ref.atlas is not None:
        out["atlas"] = {**ref.atlas.header(), "n_images": ref.atlas.n_images}
    return out
