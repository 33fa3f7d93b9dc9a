"""Latent-manifold view: how a decoder uses its latent space, from its Jacobian alone.

Manifold entropic metrics (Galperin & Koethe, AISTATS 2025): per-dimension entropy (which latents
carry information), pairwise and cross-model mutual information (which are entangled), total
correlation, with inactive dimensions reported as such.
"""

from __future__ import annotations

from genlens.manifold.analyze import analyze, index_set_mi, summarize
from genlens.manifold.collect import JacobianStats, collect_stats, sample_prior
from genlens.manifold.cross import cross_model_mi
from genlens.manifold.jacobian import flat_decoder, full_jacobian, jacobian_column
from genlens.manifold.metrics import H0, INACTIVE_TOL, set_mi_samples
from genlens.manifold.result import CrossManifoldResult, ManifoldResult

__all__ = [
    "H0",
    "INACTIVE_TOL",
    "CrossManifoldResult",
    "JacobianStats",
    "ManifoldResult",
    "analyze",
    "collect_stats",
    "cross_model_mi",
    "flat_decoder",
    "full_jacobian",
    "index_set_mi",
    "jacobian_column",
    "sample_prior",
    "set_mi_samples",
    "summarize",
]
