"""The standard-metrics section of the report: FID, KID, IS, PRDC, MMD and CMS in one feature space,
each with a bootstrap confidence interval and a real-vs-real noise floor.

A metric value alone says little: FID 12 may be excellent or awful depending on the feature space
and the sample size. Each metric is therefore also computed between two disjoint random halves of the
real set (the *floor*: what a perfect generator would score at that size) and between the generated
set and the second real half at the same size (*matched*), so the two are directly comparable.
:class:`MetricsReference` holds the real features and the floor, computed once and reused for every
generator compared against the same real set.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from genlens.errors import ConfigError
from genlens.features.space import FeatureSet
from genlens.metrics.standard import (
    DEFAULT_METRICS,
    FAMILIES,
    KEY,
    METRICS,
    TITLE,
    MetricEstimate,
    StandardMetrics,
)
from genlens.statistics import half_split, normal_interval, permutation

__all__ = ["DEFAULT_METRICS", "KEY", "TITLE", "MetricEstimate", "MetricsReference", "StandardMetrics"]

KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000  # torch-fidelity's defaults
IS_SPLITS = 10
#: Below this many images per set the nearest-neighbour metrics and KID are noise; say so.
MIN_RELIABLE = 100
#: Bootstrap intervals of FD above this feature dimension would cost minutes of eigensolves.
FD_CI_MAX_DIM = 1024


def _check_names(metrics: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(m.strip().lower() for m in metrics if m.strip()))
    unknown = [m for m in names if m not in FAMILIES]
    if unknown or not names:
        raise ConfigError(f"unknown metric(s) {unknown or metrics!r}; choose from {', '.join(FAMILIES)}")
    return names


class MetricsReference:
    """Real features plus what is derived from them once: Gaussian statistics, halves, the floor."""

    def __init__(
        self,
        real: FeatureSet,
        metrics: Sequence[str] = DEFAULT_METRICS,
        k: int = 5,
        n_boot: int = 50,
        level: float = 0.95,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        from genlens.metrics import GaussianStats

        self.real, self.metrics = real, _check_names(metrics)
        self.k, self.n_boot, self.level, self.seed = k, n_boot, level, seed
        self.device = None if device in (None, "auto") else device
        # a d x d covariance only pays when there are more samples than dimensions; below that the
        # Fréchet distance is computed exactly from the samples (see genlens.metrics.frechet)
        n, dim = real.features.shape
        wanted = "fid" in self.metrics and n > dim
        self.real_stats = GaussianStats.from_features(real.features, device=self.device) if wanted else None
        first, second = half_split(len(real), seed)
        self.half_a, self.half_b = np.sort(first), np.sort(second)
        self._floor: dict[str, float] | None = None
        self.floor_notes: tuple[str, ...] = ()
        self._rbf: Any = None
        self._replicate_cache: dict[str, tuple[np.ndarray, Any]] = {}

    @property
    def rbf_kernel(self) -> Any:
        """MMD's and CMS's RBF kernel: median heuristic on the *real* set, fixed once, so the value,
        the floor, the bootstrap replicates and every generator compared are measured alike."""
        if self._rbf is None:
            import torch

            from genlens.metrics import RBFKernel

            self._rbf = RBFKernel.median_heuristic(torch.as_tensor(self.real.features, dtype=torch.float64), seed=self.seed)
        return self._rbf

    @property
    def feature_space(self) -> str:
        return str(self.real.extractor.get("feature_space", self.real.extractor.get("name", "precomputed")))

    def floor(self) -> dict[str, float]:
        """Each scalar between the two real halves (IS: of the real logits), computed once."""
        if self._floor is None:
            a, b = self.real.features[self.half_a], self.real.features[self.half_b]
            floor: dict[str, float] = {}
            with warnings.catch_warnings(record=True) as caught:  # reported in the section's notes
                warnings.simplefilter("always")
                for family in self.metrics:
                    if family == "is":
                        if self.real.logits is not None:
                            floor["is"] = float(self.inception_score(self.real.logits))
                        continue
                    floor.update(self._scalars(family, a, b, reference_stats=None))
            self.floor_notes = tuple(dict.fromkeys(str(w.message) for w in caught))
            self._floor = floor
        return self._floor

    def compare(self, fake: FeatureSet, floor: bool = True) -> StandardMetrics:
        """Every requested metric of ``fake`` against the real set, with CIs and (optionally) the floor."""
        from genlens.errors import InputError

        real_x, fake_x = self.real.features, fake.features
        if real_x.shape[1] != fake_x.shape[1]:
            raise InputError(
                f"feature dimension mismatch: real has d={real_x.shape[1]}, generated has d={fake_x.shape[1]}; "
                "extract both with the same feature extractor"
            )
        matched_x = None
        if floor:  # a random subset of the generated set, as large as a real half
            matched_x = fake_x[np.sort(permutation(len(fake_x), self.seed + 1)[: len(self.half_a)])]
        estimates: list[MetricEstimate] = []
        notes: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            floors = self.floor() if floor else {}
            for family in self.metrics:
                self._compare_family(family, fake, matched_x, floors, estimates, notes)
        warned = list(dict.fromkeys([*(str(w.message) for w in caught), *(self.floor_notes if floor else ())]))
        small = min(len(self.real), len(fake))
        if small < MIN_RELIABLE:
            warned.append(f"only {len(fake)} generated and {len(self.real)} real images: nearest-neighbour metrics "
                          f"(precision, recall, density, coverage with k={self.k}) and KID are unreliable below about "
                          f"{MIN_RELIABLE} per set, and an interval from so few resamples is rough")
        if self.real.extractor.get("name") != fake.extractor.get("name"):
            warned.append("real and generated features come from different extractors")
        notes.extend(warned)
        if floor:
            notes.append(
                f"floor = each metric between two disjoint random halves of the real set (n={len(self.half_a)} each); "
                f"matched = {len(self.half_a)} generated vs the second half"
            )
        return StandardMetrics(
            warnings=tuple(warned),
            estimates=tuple(estimates),
            n_real=len(self.real),
            n_fake=len(fake),
            extractor=self.real.extractor,
            inputs={"real": self.real.source, "fake": fake.source, "extractor": self.real.extractor,
                    "preprocessing": self.real.extractor.get("preprocess")},
            level=self.level,
            n_boot=self.n_boot,
            seed=self.seed,
            k=self.k,
            notes=tuple(notes),
        )

    def _compare_family(
        self,
        family: str,
        fake: FeatureSet,
        matched_x: np.ndarray | None,
        floors: dict[str, float],
        estimates: list[MetricEstimate],
        notes: list[str],
    ) -> None:
        real_x, fake_x = self.real.features, fake.features
        if family == "is":
            if fake.logits is None:
                notes.append(f"IS skipped: the {fake.extractor.get('name', 'given')} features have no class logits")
                return
            estimates.append(self._is_estimate(fake.logits, floors.get("is")))
            return
        values = self._scalars(family, real_x, fake_x, reference_stats=self.real_stats, details=True)
        matched = {} if matched_x is None else self._scalars(family, self.real.features[self.half_b], matched_x, None)
        cis, ci_notes = self._cis(family, real_x, fake_x, values)
        notes.extend(ci_notes)
        for name in FAMILIES[family]:
            value, details = values[name]
            estimates.append(
                MetricEstimate(
                    name=name,
                    value=value,
                    ci=cis.get(name),
                    floor=floors.get(name),
                    matched=matched.get(name),
                    higher_is_better=METRICS[name].higher_is_better,
                    details=details,
                )
            )

    # -- the one place that knows each metric function's signature --------------------------------
    def _call(self, family: str, a: Any, b: Any) -> dict[str, Any]:
        """Scalars of one metric family on ``(a, b)`` as ``{name: (value, details)}``."""
        from genlens import metrics as m

        dev = self.device
        if family == "fid":
            r = m.frechet_distance(a, b, device=dev)
            return {"fid": (r.value, {"mean_term": r.mean_term, "covariance_term": r.covariance_term})}
        if family == "kid":
            n_a, n_b = len(a), len(b)
            size = min(KID_SUBSET_SIZE, n_a, n_b)
            subsets = 1 if n_a == n_b == size else KID_SUBSETS  # one subset *is* the whole of both sets
            r = m.kid(a, b, subsets=subsets, subset_size=size, device=dev)
            return {"kid": (r.mean, {"std": r.std, "subsets": subsets, "subset_size": size})}
        if family == "mmd":
            r = m.mmd(a, b, kernel=self.rbf_kernel, device=dev)
            return {"mmd": (r.value, {"estimator": r.estimator, "kernel": r.kernel})}
        if family == "cms":
            r = m.cms(a, b, kernel=self.rbf_kernel, device=dev)
            return {"cms": (r.value, {"estimator": r.estimator, "kernel": r.kernel})}
        if family == "prdc":
            r = m.prdc(a, b, k=self.k, device=dev)
            return {name: (getattr(r, name), {"k": self.k}) for name in FAMILIES["prdc"]}
        raise ConfigError(f"unknown metric family {family!r}")

    def scalars(self, family: str, fake: np.ndarray) -> dict[str, float]:
        """Each scalar of one metric family of ``fake`` features against the whole real set (no interval)."""
        return self._scalars(family, self.real.features, fake, self.real_stats)

    def _scalars(self, family: str, a: Any, b: Any, reference_stats: Any, details: bool = False) -> dict[str, Any]:
        first = reference_stats if (family == "fid" and reference_stats is not None) else a
        out = self._call(family, first, b)
        return {name: ((float(v), d) if details else float(v)) for name, (v, d) in out.items()}

    def _cis(self, family: str, real_x: np.ndarray, fake_x: np.ndarray,
             values: dict[str, Any]) -> tuple[dict[str, tuple[float, float]], list[str]]:
        """Bootstrap intervals of every scalar of ``family``, from one set of replicates.

        Kernel metrics (KID, MMD, CMS) take all replicates from one pass over their kernel matrices
        (:mod:`genlens.metrics.resampled_kernels`), PRDC from one screening of the distances
        (:mod:`genlens.metrics.resampled_neighbourhoods`); FD is evaluated once per replicate
        through ``bootstrap_ci``.
        """
        if self.n_boot <= 0:
            return {}, []
        if family in ("kid", "mmd", "cms"):
            return self._kernel_cis(family, real_x, fake_x, values), []
        if family == "prdc":
            return self._prdc_cis(real_x, fake_x, values), []
        dim = real_x.shape[1]
        low_rank = max(len(real_x), len(fake_x)) < dim  # each replicate is then an n x n problem, not d x d
        if family == "fid" and dim > FD_CI_MAX_DIM and not low_rank:
            return {}, [
                f"no FD interval: d={real_x.shape[1]} makes each bootstrap replicate a {real_x.shape[1]}-square "
                f"eigensolve (intervals are computed up to d={FD_CI_MAX_DIM})"
            ]
        return {"fid": self._bootstrap(lambda a, b: self._scalars("fid", a, b, None)["fid"], "fid", real_x, fake_x)}, []

    def _bootstrap(self, fn: Callable[..., float], name: str, *sets: np.ndarray) -> tuple[float, float]:
        """Normal bootstrap interval ``estimate ± z·SE`` of the scalar ``name``, SE from
        :func:`bootstrap_ci`'s replicates (FD and IS: one scalar each, recomputed per replicate).

        Not its percentile ends: resampling with replacement duplicates rows, which shifts biased
        statistics (FD grows), so percentile intervals can miss the estimate entirely. The replicates'
        spread (the bootstrap standard error) is still a sound measure of sampling noise, and needs only
        a few dozen replicates.
        """
        from genlens.metrics import bootstrap_ci

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resampled duplicates; the caveat is in the docs
            ci = bootstrap_ci(fn, *sets, n_boot=self.n_boot, level=self.level, seed=self.seed)
        return normal_interval(ci.estimate, ci.std, self.level, METRICS[name].bounds)

    def _kernel_cis(self, family: str, real_x: np.ndarray, fake_x: np.ndarray,
                    values: dict[str, Any]) -> dict[str, tuple[float, float]]:
        """Normal intervals of KID, MMD² or CMS with the standard error of weighted-resample replicates.

        KID averages the unbiased MMD² of random subsets; its variance is that of the full-sample
        estimate (which the subsets average to, in expectation) plus the subsets' own spread over
        their number (the law of total variance). The replicates give the first term, the subsets'
        standard deviation the second. MMD and CMS share one pass over the RBF kernel.
        """
        products = self._replicates("poly" if family == "kid" else "rbf", real_x, fake_x)
        estimate, details = values[family]
        if family == "cms":
            se = float(products.cms().std(ddof=1))
        else:
            se = float(products.mmd2().std(ddof=1))
            if family == "kid" and details["subsets"] > 1:
                se = float(np.hypot(se, details["std"] / np.sqrt(details["subsets"])))
        return {family: normal_interval(estimate, se, self.level, METRICS[family].bounds)}

    def _replicates(self, kernel_name: str, real_x: np.ndarray, fake_x: np.ndarray) -> Any:
        """The resampled mean-embedding products of one kernel for ``fake_x`` (kept for the next family).

        Kernel values are computed in the features' precision, as KID's are (float32 for extracted
        features); for the RBF kernel the rows are first centred on their common mean, which leaves
        distances unchanged and keeps float32 rounding small against them."""
        from genlens.metrics import PolynomialKernel
        from genlens.metrics._validate import as_features, pick_device, working_dtype
        from genlens.metrics.bootstrap import bootstrap_counts
        from genlens.metrics.resampled_kernels import resampled_products

        cached = self._replicate_cache.get(kernel_name)
        if cached is not None and cached[0] is fake_x:
            return cached[1]
        dev = pick_device(real_x, fake_x, device=self.device)
        dtype = working_dtype(real_x, fake_x)
        x, y = (as_features(a, name, device=dev) for a, name in ((real_x, "real"), (fake_x, "fake")))
        if kernel_name == "rbf":
            kernel: Any = self.rbf_kernel
            centre = (x.sum(dim=0) + y.sum(dim=0)) / (len(x) + len(y))
            x, y = x - centre, y - centre
        else:
            kernel = PolynomialKernel()
        x, y = x.to(dtype), y.to(dtype)
        counts_x, counts_y = bootstrap_counts([len(real_x), len(fake_x)], self.n_boot, self.seed)
        products = resampled_products(kernel, x, y, counts_x, counts_y)
        self._replicate_cache[kernel_name] = (fake_x, products)
        return products

    def _prdc_cis(self, real_x: np.ndarray, fake_x: np.ndarray,
                  values: dict[str, Any]) -> dict[str, tuple[float, float]]:
        """Normal intervals of precision, recall, density and coverage, every replicate from one
        screening of the distances (:mod:`genlens.metrics.resampled_neighbourhoods`)."""
        from genlens.metrics.bootstrap import bootstrap_counts
        from genlens.metrics.resampled_neighbourhoods import resampled_prdc

        counts_x, counts_y = bootstrap_counts([len(real_x), len(fake_x)], self.n_boot, self.seed)
        replicates = resampled_prdc(real_x, fake_x, counts_x, counts_y, k=self.k, device=self.device)
        return {name: normal_interval(values[name][0], float(getattr(replicates, name).std(ddof=1)), self.level,
                                      METRICS[name].bounds) for name in FAMILIES["prdc"]}

    def inception_score(self, logits: np.ndarray) -> Any:
        from genlens.metrics import inception_score

        return inception_score(logits, splits=min(IS_SPLITS, max(1, len(logits) // 2)), device=self.device)

    def _is_estimate(self, logits: np.ndarray, floor: float | None) -> MetricEstimate:
        result = self.inception_score(logits)
        ci = None
        if self.n_boot > 0:
            ci = self._bootstrap(lambda x: float(self.inception_score(x)), "is", logits)
        details = {"std": result.std, "splits": result.splits}
        return MetricEstimate("is", float(result), ci, floor, None, True, details)
