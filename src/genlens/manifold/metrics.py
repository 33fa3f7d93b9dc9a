"""Manifold entropic metrics (Galperin & Koethe, AISTATS 2025) from per-sample Jacobian summaries.

With ``J(z)`` the ``D x d`` decoder Jacobian, ``G = J^T J`` and ``C`` its cosine matrix:

* per-dimension entropy      ``H_i = h0 + E[log ||J_i||]``            (``h0 = 1/2 log(2 pi e)``)
* total entropy              ``H = d h0 + E[1/2 log det G]``  (or a flow's ``E[log |det J|]``)
* total correlation          ``MTC = sum_i H_i - H = -1/2 E[log det C] >= 0``
* pairwise mutual information ``I_ij = -1/2 E[log(1 - C_ij^2)]``

Everything here is a pure float64 function on arrays; per-sample values are returned so callers
can average them and bootstrap the average. Degenerate geometry is clamped, never turned into NaN:
``1 - C_ij^2 >= MIN_SINE2`` (so ``I_ij <= 13.8`` nats) and eigenvalues of ``C`` ``>= MIN_SINE2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# The bootstrap of this view is genlens.statistics' own, re-exported under the names callers use.

#: Entropy of a standard normal coordinate, nats.
H0 = 0.5 * math.log(2 * math.pi * math.e)
#: Floor of ``1 - cos^2`` and of the eigenvalues of the cosine matrix (collinear columns).
MIN_SINE2 = 1e-12
#: Squared column norms below this (relative to the largest) count as exactly zero.
ZERO_NORM2 = 1e-30
#: Default inactivity tolerance, see :func:`active_dimensions`.
INACTIVE_TOL = 0.02


def log_norms(sq_norms: np.ndarray) -> np.ndarray:
    """``log ||J_i||`` per sample, with zero columns floored far below any real one (finite)."""
    sq = np.asarray(sq_norms, dtype=np.float64)
    floor = max(ZERO_NORM2 * float(sq.max(initial=0.0)), 1e-300)
    return 0.5 * np.log(np.maximum(sq, floor))


def active_dimensions(
    mean_log_norm: np.ndarray, output_dim: int, output_range: float, tol: float = INACTIVE_TOL
) -> np.ndarray:
    """Which latent dimensions the decoder uses.

    Dimension ``i`` is *inactive* when a one-standard-deviation move along it changes the output by
    less than ``tol`` times the output's value range, root-mean-square over the ``D`` output
    coordinates (geometric mean over the prior): ``exp(E log ||J_i||) / sqrt(D) < tol * range``.
    The threshold is in the data's own units, so a decoder that ignores all its latents (posterior
    collapse) has no active dimension, and scaling the output scales both sides.
    """
    threshold = math.log(max(tol * output_range * math.sqrt(output_dim), 1e-100))
    return np.asarray(mean_log_norm) > threshold


def cosine_matrix(gram: np.ndarray) -> np.ndarray:
    """``C_ij = G_ij / (||J_i|| ||J_j||)`` per sample; zero columns give zero cosines."""
    sq = np.diagonal(gram, axis1=-2, axis2=-1)
    inv = np.where(sq > 0, 1.0 / np.sqrt(np.where(sq > 0, sq, 1.0)), 0.0)
    cos = gram * inv[..., :, None] * inv[..., None, :]
    idx = np.arange(gram.shape[-1])
    cos[..., idx, idx] = 1.0
    return np.clip(cos, -1.0, 1.0)


def pairwise_mi_samples(gram: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
    """Per-sample pairwise manifold MI ``(N, d, d)``: one vectorised pass, zero on the diagonal.

    Pairs involving an inactive dimension are set to 0: a column the decoder does not use carries
    no information to share.
    """
    cos = cosine_matrix(gram)
    mi = -0.5 * np.log(np.maximum(1.0 - cos * cos, MIN_SINE2))
    idx = np.arange(gram.shape[-1])
    mi[..., idx, idx] = 0.0
    if active is not None:
        mask = np.outer(active, active)
        mi = mi * mask
    return mi


def log_det_cosine(gram: np.ndarray, dims: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """``log det C_SS`` per sample (``<= 0``) over the index set ``dims`` (all when ``None``)."""
    g = gram if dims is None else gram[:, dims][:, :, dims]
    if g.shape[-1] == 0:
        return np.zeros(g.shape[0])
    eig = np.linalg.eigvalsh(cosine_matrix(g))
    return np.log(np.maximum(eig, MIN_SINE2)).sum(-1)


def set_entropy_samples(
    gram: np.ndarray, dims: Sequence[int] | np.ndarray, h0: float = H0
) -> np.ndarray:
    """Per-sample ``|S| h0 + 1/2 log det G_SS``: the manifold entropy of the index set ``S``."""
    dims = np.asarray(dims, dtype=np.int64)
    if dims.size == 0:
        return np.zeros(gram.shape[0])
    half_log_sq = log_norms(np.diagonal(gram, axis1=-2, axis2=-1))[:, dims]
    return dims.size * h0 + half_log_sq.sum(-1) + 0.5 * log_det_cosine(gram, dims)


def set_mi_samples(gram: np.ndarray, first: Sequence[int], second: Sequence[int]) -> np.ndarray:
    """Per-sample manifold MI between index sets: ``H(S) + H(T) - H(S u T)``.

    For disjoint sets the normal-entropy constants cancel and this is ``1/2 log(det C_SS det C_TT /
    det C_{S u T})``; overlapping sets share ``H(S n T)``, as Shannon MI does.
    """
    s = np.unique(np.asarray(first, dtype=np.int64))
    t = np.unique(np.asarray(second, dtype=np.int64))
    union = np.union1d(s, t)
    return set_entropy_samples(gram, s) + set_entropy_samples(gram, t) - set_entropy_samples(gram, union)


def stochastic_mean_log_norm(log_norm: np.ndarray, axes: np.ndarray, latent_dim: int) -> np.ndarray:
    """Per-axis mean of stratified single-column measurements: unbiased for ``E[log ||J_i||]``."""
    counts = np.bincount(axes, minlength=latent_dim).astype(np.float64)
    sums = np.bincount(axes, weights=log_norm, minlength=latent_dim)
    return sums / np.maximum(counts, 1.0)


def entropy_order(entropy: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Latent indices, active ones first, each group by descending entropy (ties by index)."""
    entropy = np.asarray(entropy)
    return np.lexsort((np.arange(entropy.size), -entropy, ~np.asarray(active))).astype(np.int64)
