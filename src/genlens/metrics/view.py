"""The standard metrics as a view: FD, KID, IS, PRDC, MMD and CMS in one feature space.

``fit`` extracts the real features once and computes the real-vs-real floor (:class:`MetricsReference`);
``compare`` gives every metric of a generated set with its bootstrap interval, floor and matched value;
``measure`` gives tracking each metric with its standard error over resamples of the generated images.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlens._fs import atomic_path, atomic_write_text
from genlens.features.space import FeatureSet, extract, feature_extractor, rebuild_kwargs, resolve_feature_space
from genlens.io.base import ImageSource
from genlens.metrics.reference import MetricsReference
from genlens.metrics.standard import DEFAULT_METRICS, KEY, METRICS, TEST_FAMILY, TITLE, StandardMetrics
from genlens.views.base import Measurement, Measurements, RunContext, View
from genlens.views.options import option


@dataclass(frozen=True)
class MetricsOptions:
    features: str = option("auto", "Feature space: 'auto' (the inputs' own, e.g. the zoo classifier for zoo images, "
                           "else learned), pixels, inception-v3-fid (needs its weights file), random-vgg16, "
                           "learned (a small encoder trained on REAL only, cached), zoo-classifier, "
                           "torchvision:<arch>[:<layer>], torchscript:<path>, dinov2-*, clip-*, or "
                           "precomputed (REAL/FAKE are (n, d) feature arrays).", short="-f")
    metrics: tuple[str, ...] = option(DEFAULT_METRICS, "Comma-separated metrics: fid, kid, is (only with a feature "
                                      "space that has logits), prdc, mmd, cms.", short="-m")
    k: int = option(5, "Nearest neighbour k for precision/recall/density/coverage.", min=1)
    n_boot: int = option(50, "Bootstrap replicates for the intervals (estimate ± z·SE; a few dozen estimate the "
                         "standard error well; 0 = no intervals). FD skips its interval above 1024 feature "
                         "dimensions.", min=0)
    level: float = option(0.95, "Confidence level of the intervals.", min=0.5, max=0.999)
    batch_size: int = option(64, "Images per batch for feature extraction.", min=1)
    feature_options: tuple[tuple[str, Any], ...] = option((), "Keyword arguments of the feature extractor, as "
                                                          "(name, value) pairs (e.g. (('quick', True),)).", cli=False)


@dataclass
class FittedMetrics:
    """The metrics view's reference: the feature space, its real features and floor, and the extractor
    that made them, so generated images go through the same network (for ``learned``: the encoder
    the real set trained)."""

    options: MetricsOptions
    feature_space: str
    reference: MetricsReference
    extractor: Any = field(default=None, repr=False)  # from fit; rebuilt on first use after a load


class MetricsView(View):
    key = KEY
    title = TITLE
    Options = MetricsOptions
    tracks = True
    families = (TEST_FAMILY,)

    def applies(self, real: ImageSource, fake: ImageSource | None, options: MetricsOptions) -> str | None:
        n_fake = len(fake) if fake is not None else 4
        if len(real) < 4 or n_fake < 4:
            return f"needs at least 4 images per set (real {len(real)}, generated {n_fake})"
        return None

    def fit(self, real: ImageSource, options: MetricsOptions, ctx: RunContext) -> FittedMetrics:
        name = resolve_feature_space(options.features, real, real_given=True)
        extractor = feature_extractor(name, real.image_size, ctx.device, ctx.cache_dir, dict(options.feature_options),
                                      train_on=real)  # a learned space trains here, on the real images only
        features = extract(real, name, ctx.device, ctx.cache_dir, options.batch_size, extractor=extractor)
        reference = MetricsReference(features, metrics=options.metrics, k=options.k, n_boot=options.n_boot,
                                     level=options.level, seed=ctx.seed, device=ctx.device)
        return FittedMetrics(options, name, reference, extractor)

    def compare(self, reference: FittedMetrics, fake: ImageSource, ctx: RunContext) -> StandardMetrics:
        extractor = _extractor(reference, tuple(fake.image_size), ctx)
        features = extract(fake, reference.feature_space, ctx.device, ctx.cache_dir, reference.options.batch_size,
                           extractor=extractor)
        return replace(reference.reference.compare(features, floor=True), alpha=ctx.alpha)

    # -- tracking ---------------------------------------------------------------------------------------
    def fit_tracking(self, real: ImageSource, options: MetricsOptions, ctx: RunContext) -> FittedMetrics:
        fitted = self.fit(real, options, ctx)
        ref = fitted.reference  # tracking keeps float32 features and needs no intervals of its own
        features = FeatureSet(ref.real.features.astype(np.float32), ref.real.logits, ref.real.source, ref.real.extractor)
        return FittedMetrics(options, fitted.feature_space, self._reference(features, options, ctx.seed, ctx.device),
                             fitted.extractor)

    def _reference(self, features: FeatureSet, options: MetricsOptions, seed: int, device: str | None) -> MetricsReference:
        return MetricsReference(features, metrics=options.metrics, k=options.k, n_boot=0, seed=seed, device=device)

    def measure(self, reference: FittedMetrics, images: torch.Tensor, ctx: RunContext, n_boot: int = 20) -> Measurements:
        from genlens.features import extract_features
        from genlens.io import ArraySource

        opts = reference.options
        ext = _extractor(reference, tuple(images.shape[-2:]), ctx)
        names = [ext.outputs[0], "logits"] if "logits" in ext.outputs[1:] else [ext.outputs[0]]
        out = extract_features(ArraySource(images, name="samples"), ext, cache_dir=False,
                               batch_size=opts.batch_size, outputs=names)
        ref = reference.reference
        fake = FeatureSet(out[names[0]].reshape(len(images), -1), out.get("logits"), {}, ref.real.extractor)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # subset-size and rank warnings repeat at every step
            result = ref.compare(fake, floor=False)
            errors = metric_errors(ref, fake, n_boot, ctx.seed)
        values = {f"{KEY}/{e.name}": Measurement(float(e.value), errors.get(e.name, float("nan")),
                                                 METRICS[e.name].higher_is_better)
                  for e in result.estimates}
        return Measurements(values)

    def direction(self, metric: str) -> bool | None:
        definition = METRICS.get(metric.split("/", 1)[-1])
        return definition.higher_is_better if definition is not None else None

    def save_reference(self, reference: FittedMetrics, folder: Path) -> None:
        real = reference.reference.real
        arrays = {"features": real.features} | ({"logits": real.logits} if real.logits is not None else {})
        with atomic_path(folder / "features.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)
        header = {"options": asdict(reference.options), "feature_space": reference.feature_space,
                  "source": real.source, "extractor": real.extractor, "seed": reference.reference.seed}
        atomic_write_text(folder / "metrics.json", json.dumps(header, default=str))

    def load_reference(self, folder: Path, ctx: RunContext) -> FittedMetrics:
        header = json.loads((folder / "metrics.json").read_text())
        opts = header["options"]
        options = MetricsOptions(**{**opts, "metrics": tuple(opts["metrics"]),
                                    "feature_options": tuple(tuple(p) for p in opts["feature_options"])})
        with np.load(folder / "features.npz", allow_pickle=False) as z:
            features = FeatureSet(np.array(z["features"]), np.array(z["logits"]) if "logits" in z.files else None,
                                  header["source"], header["extractor"])
        return FittedMetrics(options, header["feature_space"], self._reference(features, options, header["seed"],
                                                                               ctx.device))

    def describe_reference(self, reference: FittedMetrics) -> dict[str, Any]:
        return {"feature_space": reference.feature_space}


def _extractor(reference: FittedMetrics, image_size: tuple[int, int], ctx: RunContext) -> Any:
    """The reference's extractor; after a load, rebuilt from its name, options and (for ``learned``) the
    trained weights its real features record -- never trained again, and never on generated images."""
    if reference.extractor is None:
        kwargs = {**dict(reference.options.feature_options),
                  **rebuild_kwargs(reference.feature_space, reference.reference.real.extractor)}
        reference.extractor = feature_extractor(reference.feature_space, image_size, ctx.device, ctx.cache_dir, kwargs)
    return reference.extractor


def metric_errors(reference: MetricsReference, fake: FeatureSet, n_boot: int, seed: int) -> dict[str, float]:
    """Bootstrap standard error of every metric over resamples of the generated features (real fixed)."""
    from genlens.statistics import resample_indices, standard_error

    if n_boot < 2:
        return {}
    reps: dict[str, list[float]] = {}
    resamples = resample_indices(len(fake.features), n_boot, seed)
    if "kid" in reference.metrics:
        reps["kid"] = list(kid_replicates(reference.real.features, fake.features, resamples))
    for rows in resamples:
        for family in reference.metrics:
            if family == "kid":
                continue
            if family == "is":
                if fake.logits is not None:
                    reps.setdefault("is", []).append(float(reference.inception_score(fake.logits[rows])))
                continue
            for name, value in reference.scalars(family, fake.features[rows]).items():
                reps.setdefault(name, []).append(value)
    return {name: standard_error(np.array(r)) for name, r in reps.items()}


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
