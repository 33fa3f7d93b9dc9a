"""Standard metrics on feature arrays ``(n, d)`` (numpy or torch, CPU or GPU), verified against peers.

Fréchet distance (FID with Inception features) from streaming :class:`GaussianStats`, KID, MMD²,
CMS, Inception Score, precision/recall/density/coverage, and bootstrap confidence intervals.
Every function checks its input (NaN/Inf, shapes, sample counts) and raises ``genlens.errors`` types.
"""

from __future__ import annotations

from genlens.metrics.bootstrap import BootstrapCI, bootstrap_ci
from genlens.metrics.frechet import FrechetDistance, RankDeficientCovarianceWarning, frechet_distance
from genlens.metrics.gaussian import GaussianStats
from genlens.metrics.inception import InceptionScore, inception_score
from genlens.metrics.kernels import Kernel, LinearKernel, PolynomialKernel, RBFKernel, kernel_sums
from genlens.metrics.kernel_distance import KIDResult, SubsetSizeClippedWarning, kid
from genlens.metrics.mean_embeddings import CMSResult, MMDResult, cms, mmd
from genlens.metrics.neighbourhoods import PRDC, DuplicateSamplesWarning, prdc

__all__ = [
    "BootstrapCI",
    "CMSResult",
    "DuplicateSamplesWarning",
    "FrechetDistance",
    "GaussianStats",
    "InceptionScore",
    "KIDResult",
    "Kernel",
    "LinearKernel",
    "MMDResult",
    "PRDC",
    "PolynomialKernel",
    "RBFKernel",
    "RankDeficientCovarianceWarning",
    "SubsetSizeClippedWarning",
    "bootstrap_ci",
    "cms",
    "frechet_distance",
    "inception_score",
    "kernel_sums",
    "kid",
    "mmd",
    "prdc",
]
