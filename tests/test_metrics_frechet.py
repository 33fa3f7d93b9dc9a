"""Fréchet distance: agreement with pytorch-fid, closed forms, the singular fallback, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from genlens.errors import InputError, TooFewSamplesError
from genlens.metrics import GaussianStats, RankDeficientCovarianceWarning, frechet_distance
from genlens.metrics.frechet import trace_sqrt_product

pytorch_fid = pytest.importorskip("pytorch_fid.fid_score")

# pytorch-fid passes scipy's deprecated ``disp`` argument; that is the peer's business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")


def _correlated_features(rng: np.random.Generator, n: int, d: int, shift: float) -> np.ndarray:
    """Non-negative, correlated features with a spread-out spectrum, like pooled CNN activations."""
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return np.maximum(rng.standard_normal((n, d)) @ mix + shift, 0.0)


def _peer(a: np.ndarray, b: np.ndarray) -> float:
    return float(pytorch_fid.calculate_frechet_distance(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))


def test_matches_pytorch_fid_d64(rng: np.random.Generator) -> None:
    a = _correlated_features(rng, 400, 64, 0.3)
    b = _correlated_features(rng, 300, 64, 0.5)
    ours = frechet_distance(a, b)
    peer = _peer(a, b)
    assert abs(ours.value - peer) / peer <= 1e-6
    assert ours.sqrt_method == "cholesky"
    assert ours.value == pytest.approx(ours.mean_term + ours.covariance_term, rel=1e-12)
    assert ours.mean_term == pytest.approx(float(np.sum((a.mean(0) - b.mean(0)) ** 2)), rel=1e-10)


@pytest.mark.slow
def test_matches_pytorch_fid_d2048(rng: np.random.Generator) -> None:
    # n > d so both covariances have full rank; pytorch-fid's scipy sqrtm dominates this test's time.
    a = rng.standard_normal((2300, 2048)).astype(np.float32)
    b = (rng.standard_normal((2300, 2048)) * 1.1 + 0.05).astype(np.float32)
    ours = frechet_distance(a, b)
    peer = _peer(a.astype(np.float64), b.astype(np.float64))
    assert abs(ours.value - peer) / peer <= 1e-6


def test_closed_form_diagonal_gaussians() -> None:
    # FD between N(m1, diag(v1)) and N(m2, diag(v2)) = |m1 - m2|² + Σ (√v1 − √v2)².
    m1, m2 = np.array([0.0, 1.0, -2.0, 3.0]), np.array([1.0, 1.0, 0.0, 2.5])
    v1, v2 = np.array([1.0, 4.0, 0.25, 9.0]), np.array([2.0, 1.0, 0.25, 16.0])
    sa = GaussianStats.from_moments(m1, np.diag(v1), n=100)
    sb = GaussianStats.from_moments(m2, np.diag(v2), n=100)
    res = frechet_distance(sa, sb)
    assert res.mean_term == pytest.approx(np.sum((m1 - m2) ** 2), rel=1e-12)
    assert res.covariance_term == pytest.approx(np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2), rel=1e-12)


def test_singular_covariances_use_eigh_and_warn() -> None:
    # Both covariances rank 2 in d=4: Cholesky fails for both, the eigh factor must still be exact.
    v1, v2 = np.array([1.0, 4.0, 0.0, 0.0]), np.array([0.0, 9.0, 1.0, 0.0])
    tr, method = trace_sqrt_product(torch.tensor(np.diag(v1)), torch.tensor(np.diag(v2)))
    assert method == "eigh"
    assert float(tr) == pytest.approx(np.sum(np.sqrt(v1 * v2)), abs=1e-7)

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((20, 50)), rng.standard_normal((30, 50)) + 0.1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = frechet_distance(a, b)
    messages = [str(w.message) for w in caught if w.category is RankDeficientCovarianceWarning]
    assert any("n=20 samples for d=50" in m for m in messages)
    assert any("n=30 samples for d=50" in m for m in messages)
    # Independent reference: eigenvalues of the non-symmetric product, as torch-fidelity does.
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(s1 @ s2)
    ref = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1) + np.trace(s2)
           - 2 * np.sqrt(eig.astype(complex)).real.sum())
    assert res.value == pytest.approx(ref, rel=1e-6)
    assert np.isfinite(res.value)


def test_identical_sets_give_zero(rng: np.random.Generator) -> None:
    a = rng.standard_normal((200, 16))
    res = frechet_distance(a, a)
    assert res.value == pytest.approx(0.0, abs=1e-9)
    assert res.covariance_term >= 0.0


def test_accepts_torch_and_stats_alike(rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((100, 8)), rng.standard_normal((120, 8)) + 0.3
    from_arrays = frechet_distance(a, b).value
    from_tensors = frechet_distance(torch.from_numpy(a).float(), torch.from_numpy(b).float()).value
    from_stats = frechet_distance(GaussianStats.from_features(a), GaussianStats.from_features(b)).value
    assert from_stats == pytest.approx(from_arrays, rel=1e-12)
    assert from_tensors == pytest.approx(from_arrays, rel=1e-5)  # float32 inputs round the features
    assert float(frechet_distance(a, b)) == from_arrays


def test_no_warning_when_full_rank(rng: np.random.Generator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frechet_distance(rng.standard_normal((50, 4)), rng.standard_normal((50, 4)))


def test_bad_input_is_reported(rng: np.random.Generator) -> None:
    a = rng.standard_normal((50, 4))
    with pytest.raises(InputError, match="dimension mismatch"):
        frechet_distance(a, rng.standard_normal((50, 5)))
    bad = a.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN or Inf"):
        frechet_distance(bad, a)
    with pytest.raises(TooFewSamplesError, match="at least 2"):
        frechet_distance(a[:1], a)


def test_fewer_samples_than_dimensions_use_the_exact_low_rank_route():
    """With n < d the distance comes from the n x n cross product of the centred samples; it must equal
    the d x d covariance route, and warn that the covariances are singular."""
    import warnings

    from genlens.metrics import frechet_distance
    from genlens.metrics.frechet import RankDeficientCovarianceWarning
    from genlens.metrics.gaussian import GaussianStats

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(40, 90)), rng.normal(0.2, 1.3, size=(55, 90))
    with pytest.warns(RankDeficientCovarianceWarning):
        low = frechet_distance(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = frechet_distance(GaussianStats.from_features(a), GaussianStats.from_features(b))
    assert low.sqrt_method == "low-rank" and full.sqrt_method != "low-rank"
    assert low.value == pytest.approx(full.value, rel=1e-7)
    assert low.mean_term == pytest.approx(full.mean_term, rel=1e-12)
    enough = rng.normal(size=(200, 90))
    assert frechet_distance(enough, enough[::-1]).sqrt_method != "low-rank"  # n > d: the covariance route
