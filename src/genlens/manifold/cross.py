"""Cross-model manifold MI: how two models' latent dimensions relate at the same data points.

Both decoders' Jacobians are taken at latents that generate the *same* data (from encoders, or the
ground-truth latents that produced the data): ``I^ab_ij = -1/2 E log(1 - cos^2(J^a_i, J^b_j))``.
The result is a full, non-symmetric ``d_a x d_b`` matrix, shown beside the Pearson correlation of
the two latent sets (which sees only linear, marginal dependence).
"""

from __future__ import annotations

import numpy as np
import torch

from genlens._progress import track
from genlens.errors import InputError
from genlens.manifold import metrics as mm
from genlens.manifold.collect import check_latents, value_range, decoder_placement
from genlens.manifold.jacobian import Decoder, flat_decoder, full_jacobian
from genlens.manifold.result import CrossManifoldResult
from genlens.statistics import bootstrap_weights, percentile_interval


def cross_model_mi(
    decoder_a: Decoder,
    z_a: torch.Tensor,
    decoder_b: Decoder,
    z_b: torch.Tensor,
    *,
    names: tuple[str, str] = ("a", "b"),
    inactive_tol: float = mm.INACTIVE_TOL,
    n_boot: int = 200,
    seed: int = 0,
    device: str | torch.device | None = None,
    batch_size: int = 64,
) -> CrossManifoldResult:
    """Cross-model pairwise manifold MI of two decoders at paired latents ``z_a[n] <-> z_b[n]``."""
    z_a, z_b = check_latents(z_a), check_latents(z_b)
    if z_a.shape[0] != z_b.shape[0]:
        raise InputError(f"paired latents need equal counts, got {z_a.shape[0]} and {z_b.shape[0]}")
    n = z_a.shape[0]
    if n < 3:
        raise InputError(f"cross-model MI needs at least 3 paired latents, got {n}")
    (dev_a, type_a), (dev_b, type_b) = decoder_placement(decoder_a, device), decoder_placement(decoder_b, device)
    z_a, z_b = z_a.to(type_a or z_a.dtype), z_b.to(type_b or z_b.dtype)
    mi_parts, sq_a, sq_b = [], [], []
    range_a = range_b = None
    starts = range(0, n, batch_size)
    for start in track(starts, "cross-model Jacobians", total=len(starts)):
        za, zb = z_a[start : start + batch_size].to(dev_a), z_b[start : start + batch_size].to(dev_b)
        ga, gb = flat_decoder(decoder_a), flat_decoder(decoder_b)
        if range_a is None:
            range_a, range_b = value_range(ga, za), value_range(gb, zb)
        with torch.no_grad():
            out_a, out_b = ga(za).shape[1], gb(zb).shape[1]
        if out_a != out_b:
            raise InputError(f"the two decoders' outputs differ in size ({out_a} vs {out_b} values)")
        ja = full_jacobian(ga, za, out_a).detach().double().cpu()
        jb = full_jacobian(gb, zb, out_b).detach().double().cpu()
        na, nb = ja.pow(2).sum(1), jb.pow(2).sum(1)  # (B, d_a), (B, d_b)
        cross = torch.einsum("bki,bkj->bij", ja, jb)
        inv_a = torch.where(na > 0, na.clamp_min(1e-300).rsqrt(), torch.zeros_like(na))
        inv_b = torch.where(nb > 0, nb.clamp_min(1e-300).rsqrt(), torch.zeros_like(nb))
        cos = (cross * inv_a[:, :, None] * inv_b[:, None, :]).clamp(-1.0, 1.0).numpy()
        mi_parts.append(-0.5 * np.log(np.maximum(1.0 - cos * cos, mm.MIN_SINE2)))
        sq_a.append(na.numpy())
        sq_b.append(nb.numpy())
    mi_n = np.concatenate(mi_parts)  # (N, d_a, d_b)
    ln_a, ln_b = mm.log_norms(np.concatenate(sq_a)).mean(0), mm.log_norms(np.concatenate(sq_b)).mean(0)
    act_a = mm.active_dimensions(ln_a, out_a, range_a, inactive_tol)
    act_b = mm.active_dimensions(ln_b, out_b, range_b, inactive_tol)
    mi_n = mi_n * np.outer(act_a, act_b)
    d_a, d_b = mi_n.shape[1:]
    ci = np.full((d_a, d_b, 2), np.nan)
    if n_boot:
        reps = bootstrap_weights(n, n_boot, seed) @ mi_n.reshape(n, -1)
        ci = percentile_interval(reps).reshape(d_a, d_b, 2)
    return CrossManifoldResult(
        names=names,
        mi=mi_n.mean(0),
        mi_ci=ci,
        pearson=pearson_cross(z_a.double().numpy(), z_b.double().numpy()),
        order_a=mm.entropy_order(ln_a, act_a),
        order_b=mm.entropy_order(ln_b, act_b),
        active_a=act_a,
        active_b=act_b,
        n=n,
        seed=seed,
    )


def pearson_cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation between every column of ``a`` and every column of ``b``; constant columns 0."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    sa, sb = np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0)
    corr = (a.T @ b) / np.where(np.outer(sa, sb) > 0, np.outer(sa, sb), np.inf)
    return np.clip(corr, -1.0, 1.0)
