"""Pixel-wise CKA as one matrix product.

The paper's code computes CKA pair by pair: ``d^2/2`` pairs, each rebuilding two ``N x N`` Gram
matrices and centring them with dense ``N^3`` products. Here every pixel's Gram matrix is built once,
centred (biased HSIC: ``HKH``; unbiased HSIC: U-centring, Szekely & Rizzo 2014, whose inner product is
exactly Song et al.'s unbiased HSIC), flattened and normalised to a row ``g_p``; then
``CKA = G G^T``. Gram matrices are symmetric, so only the upper triangle is kept with off-diagonal
entries weighted by sqrt(2) (half the columns, same inner products), the product is accumulated over
chunks of sample pairs (bounded memory) and only its upper block triangle is computed.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from genlens._device import resolve_device
from genlens._memory import require
from genlens._progress import track
from genlens.errors import ConfigError, TooFewSamplesError
from genlens.regions.spatial import as_spatial, flat_sites

Kernel = Literal["rbf", "linear"]
Estimator = Literal["biased", "unbiased"]

#: Unbiased HSIC divides by n - 3; both estimators get the same floor for a predictable API.
MIN_BATCH = 4


def pixel_cka(
    x: torch.Tensor | np.ndarray,
    gamma: float | None = None,
    kernel: Kernel = "rbf",
    estimator: Estimator = "biased",
    batch_size: int | None = 100,
    device: torch.device | str | None = None,
    chunk_mb: float = 1024.0,
    gemm_dtype: torch.dtype = torch.float64,
) -> np.ndarray:
    """CKA between every pair of sites of ``(n, H, W, C)`` samples -> float64 ``(d, d)``, ``d = H*W``.

    ``batch_size`` splits the samples into ``max(1, n // batch_size)`` near-equal batches and averages
    the per-batch CKA (the paper: batches of 100); ``None`` pools all samples into one estimate.
    ``kernel="rbf"`` uses ``exp(-gamma * ||x_p - y_p||^2)`` with the global ``gamma``.
    A site that is constant within a batch has no centred Gram matrix: its CKA with every other site
    is 0 for that batch (a constant is independent of everything) and 1 with itself; never NaN.
    """
    if kernel not in ("rbf", "linear"):
        raise ConfigError(f"kernel must be 'rbf' or 'linear', got {kernel!r}")
    if estimator not in ("biased", "unbiased"):
        raise ConfigError(f"estimator must be 'biased' or 'unbiased', got {estimator!r}")
    if kernel == "rbf" and not (gamma is not None and math.isfinite(gamma) and gamma > 0):
        raise ConfigError(f"the rbf kernel needs a positive finite gamma, got {gamma!r}")
    if batch_size is not None and batch_size < MIN_BATCH:
        raise ConfigError(f"batch_size must be >= {MIN_BATCH} (or None to pool), got {batch_size}")
    t = as_spatial(x, "samples for pixel-wise CKA")
    n = t.shape[0]
    if n < MIN_BATCH:
        raise TooFewSamplesError("pixel-wise CKA", n, MIN_BATCH)
    dev = resolve_device(device)
    d = t.shape[1] * t.shape[2]
    require(8.0 * (3 * d * d + t.numel()), f"pixel-wise CKA of {d} sites ({t.shape[1]}x{t.shape[2]}, "
            f"{t.shape[3]} values each)", "choose a representation with fewer sites, e.g. --representation "
            "pixels:8 (8x8 pixel blocks), or use fewer images (--n)", device=dev)
    sites = flat_sites(t).to(dev).transpose(0, 1).contiguous()  # (d, n, C)
    n_groups = 1 if batch_size is None else max(1, n // batch_size)
    groups = np.array_split(np.arange(n), n_groups)
    total = torch.zeros(sites.shape[0], sites.shape[0], dtype=torch.float64, device=dev)
    for idx in track(groups, "pixel-wise CKA", total=len(groups)):
        group = sites[:, torch.as_tensor(idx, device=dev)]
        total += _group_cka(group, gamma, kernel, estimator, chunk_mb, gemm_dtype)
    total = torch.triu(total) + torch.triu(total, diagonal=1).T
    return (total / len(groups)).cpu().numpy()


def _group_cka(
    sites: torch.Tensor,
    gamma: float | None,
    kernel: Kernel,
    estimator: Estimator,
    chunk_mb: float,
    gemm_dtype: torch.dtype,
) -> torch.Tensor:
    """Upper triangle of the CKA matrix of one batch of samples ``sites`` ``(d, m, C)``."""
    d, m, _ = sites.shape
    unbiased = estimator == "unbiased"
    rows_per_chunk = max(1, int(chunk_mb * 2**20 / (2 * 8 * d * m)))
    constant = (sites == sites[:, :1]).all(dim=2).all(dim=1)

    # Pass 1: row sums (and the diagonal) of every site's Gram matrix, for centring. When the whole
    # batch fits in one chunk the Gram matrices are kept for pass 2 instead of being rebuilt.
    row_sum = torch.empty(d, m, dtype=torch.float64, device=sites.device)
    diag = torch.empty_like(row_sum)
    whole = None
    for a in range(0, m, rows_per_chunk):
        b = min(a + rows_per_chunk, m)
        k = _site_kernels(sites, a, b, 0, gamma, kernel)
        row_sum[:, a:b] = k.sum(dim=2)
        diag[:, a:b] = torch.diagonal(k[:, :, a:b], dim1=1, dim2=2)
        whole = k if b - a == m else None
    if unbiased:
        row_sum -= diag
        row_term = row_sum / (m - 2)
        grand = row_sum.sum(dim=1, keepdim=True) / ((m - 1) * (m - 2))
    else:
        row_term = row_sum / m
        grand = row_sum.sum(dim=1, keepdim=True) / (m * m)

    # Pass 2: centred upper-triangle entries, accumulated into G G^T chunk by chunk.
    gram = torch.zeros(d, d, dtype=torch.float64, device=sites.device)
    offset = 1 if unbiased else 0
    for a in range(0, m, rows_per_chunk):
        b = min(a + rows_per_chunk, m)
        k = whole if whole is not None else _site_kernels(sites, a, b, a, gamma, kernel)
        k.sub_(row_term[:, a:b, None]).sub_(row_term[:, None, a:]).add_(grand[:, :, None])
        r, c = torch.triu_indices(b - a, m - a, offset=offset, device=sites.device)
        if r.numel() == 0:
            continue
        g = k.reshape(d, -1).index_select(1, r * k.shape[2] + c)
        weight = torch.full(r.shape, math.sqrt(2.0), dtype=g.dtype, device=g.device)
        weight[r == c] = 1.0
        g.mul_(weight)
        g[constant] = 0.0
        del k
        _add_upper_gram(gram, g.to(gemm_dtype))

    # Normalise; only the upper triangle is meaningful (the caller mirrors it once at the end).
    norms = torch.diagonal(gram).clamp_min(0.0).sqrt()
    valid = (norms > 0) & ~constant
    inv = torch.where(valid, 1.0 / torch.where(valid, norms, torch.ones_like(norms)), 0.0)
    gram.mul_(inv[:, None]).mul_(inv[None, :])
    gram.fill_diagonal_(1.0)
    return gram


def _site_kernels(
    sites: torch.Tensor, a: int, b: int, col0: int, gamma: float | None, kernel: Kernel
) -> torch.Tensor:
    """Gram blocks ``K_p[a:b, col0:]`` for every site ``p`` -> ``(d, b - a, m - col0)`` float64."""
    left, right = sites[:, a:b], sites[:, col0:]
    prod = left @ right.transpose(1, 2)
    if kernel == "linear":
        return prod
    sq = prod.mul_(-2.0).add_(left.square().sum(-1)[:, :, None]).add_(right.square().sum(-1)[:, None, :])
    return sq.clamp_min_(0.0).mul_(-gamma).exp_()


def _add_upper_gram(gram: torch.Tensor, g: torch.Tensor, block: int = 512) -> None:
    """``gram += g g^T`` on the upper block triangle only (the rest is mirrored once at the end)."""
    d = g.shape[0]
    for i in range(0, d, block):
        j = min(i + block, d)
        if g.dtype == gram.dtype:
            gram[i:j, i:].addmm_(g[i:j], g[i:].T)
        else:
            gram[i:j, i:] += (g[i:j] @ g[i:].T).to(gram.dtype)
