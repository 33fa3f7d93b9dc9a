"""``analyze``: a decoder callable in, a :class:`ManifoldResult` out.

``summarize`` is the pure part: it turns per-sample Jacobian summaries into averages and bootstrap
intervals. Every average is a mean of per-sample values, so one matrix of resampling weights gives
all intervals with a single matmul.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch

from genlens.errors import ConfigError, TooFewSamplesError
from genlens.manifold import metrics as mm
from genlens.manifold.collect import (
    JacobianStats,
    Mode,
    PriorSampler,
    collect_stats,
    concat_stats,
    sample_prior,
)
from genlens.manifold.jacobian import Decoder, FullDirection
from genlens.manifold.result import ManifoldResult
from genlens.statistics import bootstrap_weights, percentile_interval


def analyze(
    decoder: Decoder,
    latent_dim: int,
    n: int = 1000,
    *,
    mode: Mode = "full",
    prior: PriorSampler | None = None,
    classes: int | Sequence[str] | None = None,
    log_det: Callable[[torch.Tensor], torch.Tensor] | None = None,
    include_h0: bool = True,
    inactive_tol: float = mm.INACTIVE_TOL,
    output_range: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    memory_mb: float = 256.0,
    direction: FullDirection = "auto",
) -> ManifoldResult:
    """Manifold entropic metrics of ``decoder: z (n, d) [, c] -> x`` under its latent prior.

    ``mode``: ``full`` (Jacobians, all metrics), ``columns`` (``d`` JVPs per chunk, entropies only,
    plus H and MTC when a flow's ``log_det`` is given), ``stochastic`` (one JVP per sample along a
    stratified axis; unbiased per-dimension entropies at the cost of one pass).
    ``classes``: a count or names; the decoder is then called as ``decoder(z, one_hot(c))`` with
    ``n`` split equally over classes, and metrics are averaged over classes.
    ``output_range`` fixes the data scale of the inactivity rule (default: measured on the samples).
    """
    if latent_dim < 1:
        raise ConfigError(f"latent_dim must be at least 1, got {latent_dim}")
    if n < 2:
        raise TooFewSamplesError("manifold metrics", n, 2)
    kwargs = dict(mode=mode, log_det=log_det, device=device, batch_size=batch_size,
                  memory_mb=memory_mb, direction=direction, seed=seed)
    class_names: tuple[str, ...] = ()
    class_columns = None
    if classes is None:
        z = sample_prior(latent_dim, n, seed, prior)
        stats = collect_stats(decoder, z, **kwargs)
    else:
        class_names = tuple(str(c) for c in (range(classes) if isinstance(classes, int) else classes))
        per_class = n // max(len(class_names), 1)
        if per_class < 2:
            raise TooFewSamplesError(f"manifold metrics over {len(class_names)} classes", n, 2 * len(class_names))
        parts = []
        for k in range(len(class_names)):
            z = sample_prior(latent_dim, per_class, seed + 7919 * k, prior)
            onehot = torch.zeros(per_class, len(class_names))
            onehot[:, k] = 1.0
            parts.append(collect_stats(decoder, z, condition=onehot, **kwargs))
        stats = concat_stats(parts, list(range(len(class_names))))
        class_columns = np.stack([p.column_means() for p in parts])
    if output_range is not None:
        stats = replace(stats, output_range=float(output_range))
    return summarize(stats, include_h0=include_h0, inactive_tol=inactive_tol, n_boot=n_boot,
                     seed=seed, classes=class_names, class_column_means=class_columns)


def summarize(
    stats: JacobianStats,
    *,
    include_h0: bool = True,
    inactive_tol: float = mm.INACTIVE_TOL,
    n_boot: int = 200,
    seed: int = 0,
    classes: Sequence[str] = (),
    class_column_means: np.ndarray | None = None,
) -> ManifoldResult:
    """Averages and bootstrap intervals of the metrics from per-sample Jacobian summaries."""
    h0 = mm.H0 if include_h0 else 0.0
    d, n = stats.latent_dim, stats.n
    weights = bootstrap_weights(n, n_boot, seed, labels=stats.labels) if n_boot else None

    per_sample_ln = None if stats.axes is not None else mm.log_norms(stats.sq_norms)
    entropy_ci = np.full((d, 2), np.nan)
    if per_sample_ln is None:  # stochastic: a per-axis mean of single-column measurements
        ln = mm.log_norms(stats.sq_norms)
        mean_ln = mm.stochastic_mean_log_norm(ln, stats.axes, d)
        if weights is not None:
            onehot = np.eye(d)[stats.axes]
            reps = (weights @ (onehot * ln[:, None])) / np.maximum(weights @ onehot, 1e-300)
            entropy_ci = percentile_interval(reps + h0)
    else:
        mean_ln = per_sample_ln.mean(0)
    active = mm.active_dimensions(mean_ln, stats.output_dim, stats.output_range, inactive_tol)
    entropy = h0 + mean_ln

    # Per-sample values whose means are the remaining metrics; columns of one matrix for the bootstrap.
    blocks: dict[str, np.ndarray] = {}
    if per_sample_ln is not None:
        blocks["entropy"] = per_sample_ln + h0
    source = None
    if stats.gram is not None:
        act = np.flatnonzero(active)
        mtc_n = -0.5 * mm.log_det_cosine(stats.gram, act)
        blocks["total_correlation"] = mtc_n[:, None]
        blocks["total_entropy"] = ((per_sample_ln[:, act] + h0).sum(1) - mtc_n)[:, None]
        blocks["pairwise_mi"] = mm.pairwise_mi_samples(stats.gram, active).reshape(n, d * d)
        source = "gram"
    if stats.log_det is not None and per_sample_ln is not None:  # a flow's exact log-determinant wins
        h_n = d * h0 + stats.log_det
        blocks["total_entropy"] = h_n[:, None]
        blocks["total_correlation"] = ((per_sample_ln + h0).sum(1) - h_n)[:, None]
        source = "flow-log-det"

    names = list(blocks)
    values = np.concatenate([blocks[k] for k in names], axis=1) if names else np.zeros((n, 0))
    means = dict(zip(names, _split(values.mean(0), names, blocks)))
    cis = {}
    if weights is not None and names:
        intervals = percentile_interval(weights @ values)  # (k, 2)
        cis = dict(zip(names, _split(intervals, names, blocks)))
    if "entropy" in cis:
        entropy_ci = cis["entropy"]

    def scalar(key: str) -> float | None:
        return float(means[key][0]) if key in means else None

    def scalar_ci(key: str) -> tuple[float, float] | None:
        return (float(cis[key][0, 0]), float(cis[key][0, 1])) if key in cis else None

    class_entropy = None
    if classes and stats.labels is not None and per_sample_ln is not None:
        class_entropy = np.stack([per_sample_ln[stats.labels == k].mean(0) + h0 for k in range(len(classes))])
    return ManifoldResult(
        latent_dim=d,
        output_shape=stats.output_shape,
        n=n,
        mode=stats.mode,
        h0=h0,
        entropy=entropy,
        entropy_ci=entropy_ci,
        active=active,
        order=mm.entropy_order(entropy, active),
        total_entropy=scalar("total_entropy"),
        total_entropy_ci=scalar_ci("total_entropy"),
        total_entropy_source=source,
        total_correlation=scalar("total_correlation"),
        total_correlation_ci=scalar_ci("total_correlation"),
        pairwise_mi=means["pairwise_mi"].reshape(d, d) if "pairwise_mi" in means else None,
        pairwise_mi_ci=cis["pairwise_mi"].reshape(d, d, 2) if "pairwise_mi" in cis else None,
        column_means=stats.column_means(),
        output_range=stats.output_range,
        inactive_tol=inactive_tol,
        seed=seed,
        n_boot=n_boot,
        classes=tuple(classes),
        class_entropy=class_entropy,
        class_column_means=class_column_means,
    )


def _split(flat: np.ndarray, names: list[str], blocks: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Cut a concatenated vector (or ``(k, 2)`` intervals) back into the named blocks."""
    sizes = np.cumsum([blocks[k].shape[1] for k in names])[:-1]
    return np.split(flat, sizes, axis=0)


def index_set_mi(
    stats: JacobianStats,
    first: Sequence[int],
    second: Sequence[int],
    n_boot: int = 200,
    seed: int = 0,
) -> tuple[float, tuple[float, float] | None]:
    """Manifold MI between two sets of latent dimensions and its bootstrap interval (full mode).

    E.g. content vs style latents: ``index_set_mi(collect_stats(dec, z), range(8), range(8, 16))``.
    """
    if stats.gram is None:
        raise ConfigError("MI between index sets needs Gram matrices: collect the stats with mode='full'")
    bad = [i for i in [*first, *second] if not 0 <= int(i) < stats.latent_dim]
    if bad or not len(first) or not len(second):
        raise ConfigError(f"index sets must be non-empty and within 0..{stats.latent_dim - 1}; got {bad or 'empty'}")
    values = mm.set_mi_samples(stats.gram, first, second)
    if not n_boot:
        return float(values.mean()), None
    reps = bootstrap_weights(stats.n, n_boot, seed, labels=stats.labels) @ values
    lo, hi = percentile_interval(reps)
    return float(values.mean()), (float(lo), float(hi))
