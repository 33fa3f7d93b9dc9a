"""Stream a decoder's Jacobians over prior samples and keep only what the metrics need, per sample.

Only small per-sample summaries leave a chunk: squared column norms ``(N, d)``, the float64 Gram
matrix ``J^T J`` ``(N, d, d)`` in full mode, a flow's log-determinant when given, and the running sum
of Jacobian columns ``(d, D)`` for the column images. The Jacobian itself lives one chunk at a time,
so memory is bounded by ``memory_mb`` whatever ``N``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch

from genlens._device import resolve_device
from genlens._progress import track
from genlens.errors import ConfigError, InputError, TooFewSamplesError
from genlens.manifold.jacobian import Decoder, FullDirection, flat_decoder, full_jacobian, jacobian_column

Mode = Literal["full", "columns", "stochastic"]
MODES: tuple[str, ...] = ("full", "columns", "stochastic")
#: Prior sampler: ``(n, generator) -> z (n, d)``; the generator is a CPU ``torch.Generator``.
PriorSampler = Callable[[int, torch.Generator], torch.Tensor]
#: Refuse to keep per-sample Gram matrices larger than this (use ``mode='columns'`` instead).
MAX_GRAM_BYTES = 2 << 30


@dataclass(frozen=True)
class JacobianStats:
    """Per-sample Jacobian summaries of one decoder (float64, CPU).

    ``sq_norms[n, i] = ||J_i(z_n)||^2``; in stochastic mode only column ``axes[n]`` of sample ``n`` is
    measured and ``sq_norms`` has shape ``(N,)``.
    """

    mode: str
    latent_dim: int
    output_shape: tuple[int, ...]
    sq_norms: np.ndarray
    gram: np.ndarray | None
    axes: np.ndarray | None
    log_det: np.ndarray | None
    column_sum: np.ndarray
    column_count: np.ndarray
    output_range: float
    labels: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.sq_norms.shape[0])

    @property
    def output_dim(self) -> int:
        return int(np.prod(self.output_shape))

    def column_means(self) -> np.ndarray:
        """``E_z[J_i]`` as ``(d, D)``: what moving along latent ``i`` does on average."""
        return self.column_sum / np.maximum(self.column_count, 1)[:, None]


def sample_prior(latent_dim: int, n: int, seed: int, prior: PriorSampler | None = None) -> torch.Tensor:
    """``n`` latents from ``prior`` (standard normal by default), reproducible from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    z = prior(n, gen) if prior is not None else torch.randn(n, latent_dim, generator=gen)
    z = torch.as_tensor(z)
    if z.shape != (n, latent_dim):
        raise InputError(f"the prior sampler must return shape ({n}, {latent_dim}), got {tuple(z.shape)}")
    return z


def decoder_placement(
    decoder: Decoder, device: str | torch.device | None
) -> tuple[torch.device, torch.dtype | None]:
    """Device and float dtype for the latents.

    For (a method of) an ``nn.Module``: its parameters' dtype, and its own device unless ``device``
    names another (the module is then moved). Plain callables: ``resolve_device(device)``, latents
    keep their dtype.
    """
    owner = decoder if isinstance(decoder, torch.nn.Module) else getattr(decoder, "__self__", None)
    param = next(owner.parameters(), None) if isinstance(owner, torch.nn.Module) else None
    dtype = param.dtype if param is not None and param.is_floating_point() else None
    if device is None and param is not None:
        return param.device, dtype
    dev = resolve_device(device)
    if isinstance(owner, torch.nn.Module):
        owner.to(dev)
    return dev, dtype


def collect_stats(
    decoder: Decoder,
    z: torch.Tensor,
    *,
    mode: Mode = "full",
    condition: torch.Tensor | None = None,
    log_det: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    memory_mb: float = 256.0,
    direction: FullDirection = "auto",
    seed: int = 0,
) -> JacobianStats:
    """Jacobian summaries of ``decoder`` at the latents ``z (N, d)``, chunked to ``memory_mb``.

    ``condition`` (``(N, ...)``, e.g. one-hot classes) is passed as the decoder's second argument.
    ``log_det(z)`` returns a flow's ``log|det dg/dz|`` per sample (square decoders only).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown Jacobian mode {mode!r}; use one of {', '.join(MODES)}")
    z = check_latents(z)
    n, d = z.shape
    if mode == "stochastic" and n < d:
        raise TooFewSamplesError(f"stochastic mode with {d} latent dimensions", n, d)
    if condition is not None and condition.shape[0] != n:
        raise InputError(f"condition has {condition.shape[0]} rows but there are {n} latents")
    dev, dtype = decoder_placement(decoder, device)
    if dtype is not None:
        z = z.to(dtype)
        if condition is not None and condition.is_floating_point():
            condition = condition.to(dtype)
    with torch.no_grad():
        probe = decoder(z[:1].to(dev)) if condition is None else decoder(z[:1].to(dev), condition[:1].to(dev))
    probe = probe[0] if isinstance(probe, (tuple, list)) else probe
    output_shape = tuple(int(s) for s in probe.shape[1:])
    out_dim = int(np.prod(output_shape))
    if mode == "full" and n * d * d * 8 > MAX_GRAM_BYTES:
        raise ConfigError(
            f"{n} per-sample Gram matrices of {d} latents need {n * d * d * 8 / 2**30:.1f} GiB; "
            "lower n, or use mode='columns' (entropies only) with a flow's log-determinant"
        )
    chunk = batch_size or _auto_batch(mode, d, out_dim, memory_mb)
    axes = _stratified_axes(n, d, seed) if mode == "stochastic" else None

    sq_parts, gram_parts, logdet_parts = [], [], []
    column_sum = torch.zeros(d, out_dim, dtype=torch.float64)
    column_count = torch.zeros(d, dtype=torch.float64)
    output_range = None
    starts = range(0, n, chunk)
    for start in track(starts, "decoder Jacobians", total=len(starts)):
        zc = z[start : start + chunk].to(dev)
        g = flat_decoder(decoder, None if condition is None else condition[start : start + chunk].to(dev))
        if output_range is None:
            output_range = value_range(g, zc)
        with torch.no_grad():
            if log_det is not None:
                logdet_parts.append(torch.as_tensor(log_det(zc)).double().reshape(-1).cpu())
        if mode == "full":
            jac = full_jacobian(g, zc, out_dim, direction).detach().double()  # (B, D, d)
            gram = torch.einsum("bki,bkj->bij", jac, jac)
            gram_parts.append(gram.cpu())
            sq_parts.append(torch.diagonal(gram, dim1=1, dim2=2).cpu())
            column_sum += jac.sum(0).T.cpu()
            column_count += zc.shape[0]
        elif mode == "columns":
            sq = torch.empty(zc.shape[0], d, dtype=torch.float64)
            for i in range(d):
                col = jacobian_column(g, zc, torch.full((zc.shape[0],), i, device=dev)).detach().double()
                sq[:, i] = col.pow(2).sum(1).cpu()
                column_sum[i] += col.sum(0).cpu()
            column_count += zc.shape[0]
            sq_parts.append(sq)
        else:
            ax = torch.as_tensor(axes[start : start + chunk], device=dev)
            col = jacobian_column(g, zc, ax).detach().double()
            sq_parts.append(col.pow(2).sum(1).cpu())
            column_sum.index_add_(0, ax.cpu(), col.cpu())
            column_count += torch.bincount(ax.cpu(), minlength=d).double()
        if not torch.isfinite(sq_parts[-1]).all():
            raise InputError(
                f"the decoder's Jacobian is NaN or infinite at some prior samples (rows {start}.."
                f"{start + len(zc) - 1}); check the decoder for non-differentiable points or overflow"
            )

    log_det_all = torch.cat(logdet_parts).numpy() if logdet_parts else None
    if log_det_all is not None and (log_det_all.shape != (n,) or not np.isfinite(log_det_all).all()):
        raise InputError("log_det must return one finite log|det J| per latent vector")
    return JacobianStats(
        mode=mode,
        latent_dim=d,
        output_shape=output_shape,
        sq_norms=torch.cat(sq_parts).numpy(),
        gram=torch.cat(gram_parts).numpy() if gram_parts else None,
        axes=axes,
        log_det=log_det_all,
        column_sum=column_sum.numpy(),
        column_count=column_count.numpy(),
        output_range=float(output_range),
    )


def concat_stats(parts: list[JacobianStats], labels: list[int]) -> JacobianStats:
    """Pool per-class summaries (equal sample counts per class), remembering each sample's class."""
    first = parts[0]

    def cat(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        return None if values[0] is None else np.concatenate(values)

    return replace(
        first,
        sq_norms=cat("sq_norms"),
        gram=cat("gram"),
        axes=cat("axes"),
        log_det=cat("log_det"),
        column_sum=np.sum([p.column_sum for p in parts], axis=0),
        column_count=np.sum([p.column_count for p in parts], axis=0),
        output_range=max(p.output_range for p in parts),
        labels=np.concatenate([np.full(p.n, lab) for p, lab in zip(parts, labels)]),
    )


def check_latents(z: torch.Tensor) -> torch.Tensor:
    z = torch.as_tensor(z)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise InputError(f"latents must be a (n, d) array with n, d >= 1, got shape {tuple(z.shape)}")
    if not z.is_floating_point():
        z = z.float()
    if not torch.isfinite(z).all():
        raise InputError("latents contain NaN or infinite values")
    return z


def _auto_batch(mode: str, latent_dim: int, out_dim: int, memory_mb: float) -> int:
    """Samples per chunk so one chunk's Jacobian (and the vmapped passes) stay near ``memory_mb``."""
    per_sample = out_dim * (latent_dim if mode == "full" else 1) * 24  # float32 J + float64 copy + slack
    return int(max(1, min(4096, memory_mb * 2**20 // max(per_sample, 1))))


def _stratified_axes(n: int, d: int, seed: int) -> np.ndarray:
    """Each latent axis measured ``n // d`` or ``n // d + 1`` times, in random order."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % d).astype(np.int64)


def value_range(g: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> float:
    """Spread of the decoded values (0.5%-99.5% quantiles): the scale of 'a small change'."""
    with torch.no_grad():
        values = g(z).detach().flatten().double().cpu()
    if values.numel() > 1_000_000:
        values = values[:: values.numel() // 1_000_000 + 1]
    if not torch.isfinite(values).all():
        raise InputError("the decoder returned NaN or infinite values at prior samples")
    lo, hi = torch.quantile(values, torch.tensor([0.005, 0.995], dtype=torch.float64))
    return float(hi - lo)
