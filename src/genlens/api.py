"""A small Python API over the CLI's work: open inputs, compute standard metrics, write a report.

    >>> from genlens import api
    >>> result = api.compute_metrics("data/real", "samples.npz", features="random-vgg16")
    >>> result.value("fid"), result.estimate("fid").ci
    >>> api.report("data/real", "samples/", "report-dir")

``real``/``fake`` may be anything :func:`open_input` accepts: a path or spec string, an
:class:`~genlens.io.base.ImageSource`, or an image array/tensor.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genlens._hashing import hash_array
from genlens.budget import DEFAULT_ALPHA, check_alpha
from genlens.errors import ConfigError
from genlens.io.base import ImageSource
from genlens.io.subset import PrefixSource
from genlens.metrics.reference import DEFAULT_METRICS, MetricsReference, StandardMetrics
from genlens.features.space import FeatureSet, extract, feature_extractor, load_precomputed, resolve_feature_space

PathLike = str | os.PathLike[str]


def open_input(spec: Any, skip_bad: bool = False, n: int | None = None) -> ImageSource:
    """An :class:`ImageSource` from anything ``genlens.io.open_source`` reads; the first ``n`` images only."""
    from genlens.io import open_source

    source = open_source(spec, skip_bad=skip_bad)
    return PrefixSource(source, n) if n is not None and n < len(source) else source


def features_of(
    spec: Any,
    features: str = "auto",
    n: int | None = None,
    device: str | None = None,
    batch_size: int = 64,
    cache_dir: PathLike | None = None,
    skip_bad: bool = False,
) -> FeatureSet:
    """Features of one input (``features='precomputed'``: ``spec`` is an ``(n, d)`` .npy/.npz array)."""
    if features == "precomputed":
        if isinstance(spec, (str, os.PathLike)):
            return load_precomputed(spec).head(n)
        arr = np.require(np.asarray(spec, dtype=np.float64), requirements="W")
        source = {"kind": "array", "n": len(arr), "fingerprint": hash_array(arr)[:32]}
        return FeatureSet(arr, None, source, {"feature_space": "precomputed", "name": "precomputed"}).head(n)
    source = open_input(spec, skip_bad=skip_bad, n=n)
    return extract(source, resolve_feature_space(features, source), device, cache_dir, batch_size)


def compute_metrics(
    real: Any,
    fake: Any,
    features: str = "auto",
    metrics: Sequence[str] = DEFAULT_METRICS,
    n: int | None = None,
    n_boot: int = 50,
    level: float = 0.95,
    floor: bool = False,
    k: int = 5,
    seed: int = 0,
    device: str | None = None,
    batch_size: int = 64,
    cache_dir: PathLike | None = None,
    skip_bad: bool = False,
    alpha: float = DEFAULT_ALPHA,
) -> StandardMetrics:
    """Standard metrics between ``real`` and ``fake`` in one feature space, with bootstrap CIs.

    With ``floor``, each metric is judged against its real-vs-real floor; ``alpha`` is the chance
    that a generator as good as the data has any metric judged beyond it (Holm over the metrics)."""
    if features == "precomputed":
        real_set = features_of(real, "precomputed", n=n)
        fake_set = features_of(fake, "precomputed", n=n)
    else:
        real_src = open_input(real, skip_bad=skip_bad, n=n)
        fake_src = open_input(fake, skip_bad=skip_bad, n=n)
        name = resolve_feature_space(features, real_src, fake_src, real_given=True)
        # one network for both sets; a learned space is trained on the real images only
        extractor = feature_extractor(name, real_src.image_size, device, cache_dir, train_on=real_src)
        real_set = extract(real_src, name, device, cache_dir, batch_size, extractor=extractor)
        fake_set = extract(fake_src, name, device, cache_dir, batch_size, extractor=extractor)
    reference = MetricsReference(real_set, metrics=metrics, k=k, n_boot=n_boot, level=level, seed=seed, device=device)
    return dataclasses.replace(reference.compare(fake_set, floor=floor), alpha=check_alpha(alpha))


def metrics_table(result: StandardMetrics) -> Any:
    """A rich table of a metrics result, for the terminal."""
    from rich.table import Table

    table = Table(title=f"genlens metrics ({result.extractor.get('name', '?')}, n_real={result.n_real}, n_fake={result.n_fake})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column(f"{int(result.level * 100)}% CI", justify="right")
    with_floor = any(est.floor is not None for est in result.estimates)
    if with_floor:
        table.add_column("generated (half)", justify="right")
        table.add_column("real floor (half)", justify="right")
    table.add_column("better")
    fmt = lambda x: "—" if x is None else f"{x:.4g}"  # noqa: E731
    for est in result.estimates:
        ci = f"[{est.ci[0]:.4g}, {est.ci[1]:.4g}]" if est.ci else "—"
        half = (fmt(est.matched), fmt(est.floor)) if with_floor else ()
        table.add_row(est.name, fmt(est.value), ci, *half, "higher" if est.higher_is_better else "lower")
    return table


def export_features(
    spec: Any,
    output: PathLike,
    features: str = "auto",
    n: int | None = None,
    device: str | None = None,
    batch_size: int = 64,
    cache_dir: PathLike | None = None,
    skip_bad: bool = False,
) -> Path:
    """Write the features of one input to ``output`` (.npz: ``features``, ``logits`` when present)."""
    from genlens._fs import atomic_path

    output = Path(output)
    if output.suffix != ".npz":
        raise ConfigError(f"--output {output}: features are written as .npz; give a name ending in .npz")
    if features == "precomputed":
        raise ConfigError("--features precomputed reads features; name a network to extract them with")
    fs = features_of(spec, features, n=n, device=device, batch_size=batch_size, cache_dir=cache_dir, skip_bad=skip_bad)
    arrays = {"features": fs.features}
    if fs.logits is not None:
        arrays["logits"] = fs.logits
    with atomic_path(output) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return output


def report(
    real: Any,
    fake: Any,
    out_dir: PathLike,
    features: str = "auto",
    n: int | None = None,
    only: Sequence[str] | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    title: str = "genlens report",
    n_boot: int = 50,
    seed: int = 0,
    device: str | None = None,
    cache_dir: PathLike | None = None,
    skip_bad: bool = False,
    options: dict[str, dict[str, Any]] | None = None,
    on_done: Any = None,
    alpha: float = DEFAULT_ALPHA,
) -> Path:
    """Run every view that applies to ``real`` vs ``fake``; write the report to ``out_dir``.

    ``options[key]`` passes settings to one view (a mapping of its ``Options`` fields, or the
    ``Options`` itself); ``on_done(section, seconds)`` is called after each view. ``alpha`` is the
    report's false-alarm budget: the chance that a generator as good as the real data gets any
    significant finding (:mod:`genlens.budget`)."""
    from genlens._device import resolve_device
    from genlens.report.runner import build_report
    from genlens.views import RunContext

    if features == "precomputed":
        raise ConfigError("a report needs images (several views look at pixels); use `genlens metrics` for feature arrays")
    real_src = open_input(real, skip_bad=skip_bad, n=n)
    fake_src = open_input(fake, skip_bad=skip_bad, n=n)
    opts: dict[str, Any] = {key: (dict(val) if isinstance(val, Mapping) else val) for key, val in (options or {}).items()}
    metrics_opts = opts.setdefault("metrics", {})
    if isinstance(metrics_opts, dict):
        metrics_opts.setdefault("features", features)
        metrics_opts.setdefault("n_boot", n_boot)
        metrics_opts.setdefault("metrics", tuple(metrics))
    ctx = RunContext(
        device=str(resolve_device(None if device in (None, "auto") else device)),
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        seed=seed,
        alpha=check_alpha(alpha),
    )
    return build_report(real_src, fake_src, out_dir, opts, ctx, title=title, only=only, on_done=on_done)
