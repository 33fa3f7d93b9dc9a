"""MMD², CMS and KID: naive double loops, closed forms, torch-fidelity and torchmetrics agreement."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from genlens.errors import ConfigError, InputError, TooFewSamplesError
from genlens.metrics import (
    LinearKernel,
    PolynomialKernel,
    RBFKernel,
    SubsetSizeClippedWarning,
    cms,
    kernel_sums,
    kid,
    mmd,
)


def _naive_kernel(name: str, gamma: float):
    if name == "rbf":
        return lambda u, v: math.exp(-gamma * sum((p - q) ** 2 for p, q in zip(u, v)))
    if name == "poly":
        return lambda u, v: (sum(p * q for p, q in zip(u, v)) / len(u) + 1.0) ** 3
    return lambda u, v: sum(p * q for p, q in zip(u, v))


def _naive_means(x: np.ndarray, y: np.ndarray, k, unbiased: bool) -> tuple[float, float, float]:
    """Mean kernel values by explicit loops over pairs: within x, within y, across."""
    def within(s: np.ndarray) -> float:
        pairs = [(i, j) for i, j in itertools.product(range(len(s)), repeat=2) if not (unbiased and i == j)]
        return sum(k(s[i], s[j]) for i, j in pairs) / len(pairs)
    across = sum(k(u, v) for u in x for v in y) / (len(x) * len(y))
    return within(x), within(y), across


@pytest.mark.parametrize("name", ["rbf", "poly", "linear"])
@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_mmd_and_cms_match_naive_double_loop(name: str, estimator: str, rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((7, 3)) + 0.5, rng.standard_normal((5, 3)) + 0.8
    gamma = 0.37
    kernel = {"rbf": RBFKernel(gamma), "poly": PolynomialKernel(), "linear": LinearKernel()}[name]
    xx, yy, xy = _naive_means(x, y, _naive_kernel(name, gamma), unbiased=estimator == "unbiased")
    got_mmd = mmd(x, y, kernel, estimator=estimator, block_size=2)  # tiny tiles exercise the blocking
    assert got_mmd.value == pytest.approx(xx + yy - 2 * xy, rel=1e-10, abs=1e-12)
    got_cms = cms(x, y, kernel, estimator=estimator, block_size=3)
    assert got_cms.value == pytest.approx(xy / math.sqrt(xx * yy), rel=1e-10)


def test_closed_forms_for_the_linear_kernel(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((40, 6)) + 1.0, rng.standard_normal((30, 6)) + 1.5
    mx, my = x.mean(0), y.mean(0)
    assert mmd(x, y, "linear", estimator="biased").value == pytest.approx(np.sum((mx - my) ** 2), rel=1e-10)
    cosine = mx @ my / (np.linalg.norm(mx) * np.linalg.norm(my))
    assert cms(x, y, "linear").value == pytest.approx(cosine, rel=1e-12)


def test_cms_of_a_set_with_itself(rng: np.random.Generator) -> None:
    x = rng.standard_normal((50, 4))
    assert cms(x, x).value == pytest.approx(1.0, abs=1e-12)
    assert cms(x, x, PolynomialKernel()).value == pytest.approx(1.0, abs=1e-12)
    assert cms(x, x + 3.0).value < 0.5
    # The unbiased norms drop the k(x, x) = 1 diagonal, so the self-similarity exceeds 1 for RBF.
    assert cms(x, x, estimator="unbiased").value > 1.0


def test_unbiased_mmd_is_centred_on_zero_for_matching_distributions() -> None:
    gen = np.random.default_rng(3)
    values = [mmd(gen.standard_normal((30, 2)), gen.standard_normal((30, 2)), RBFKernel(0.5)).value
              for _ in range(200)]
    mean, sem = float(np.mean(values)), float(np.std(values) / np.sqrt(len(values)))
    assert abs(mean) < 4 * sem  # unbiased: no systematic offset
    biased = [mmd(gen.standard_normal((30, 2)), gen.standard_normal((30, 2)), RBFKernel(0.5),
                  estimator="biased").value for _ in range(50)]
    assert min(biased) > 0  # a V-statistic is a squared norm


def test_median_heuristic_matches_numpy(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((15, 3)) + 1.0
    pooled = np.concatenate([x, y])
    d2 = ((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(-1)
    kernel = RBFKernel.median_heuristic(torch.from_numpy(x), torch.from_numpy(y))
    assert kernel.gamma == pytest.approx(1.0 / np.median(d2[np.triu_indices(35, 1)]), rel=1e-12)
    with_self = RBFKernel.median_heuristic(torch.from_numpy(x), torch.from_numpy(y), include_self_pairs=True)
    assert with_self.gamma == pytest.approx(1.0 / np.median(d2), rel=1e-12)
    result = mmd(x, y)  # the default kernel states how its bandwidth was chosen
    assert result.kernel["bandwidth_rule"].startswith("median heuristic")
    assert result.kernel["gamma"] == pytest.approx(kernel.gamma, rel=1e-12)


def test_kernel_sums_are_independent_of_block_size(rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.standard_normal((53, 5)))
    kernel = RBFKernel(0.2)
    full = kernel(x, x)
    for block in (1, 7, 53, 100):
        sums = kernel_sums(kernel, x, block_size=block)
        assert sums.total == pytest.approx(float(full.sum()), rel=1e-12)
        assert sums.diagonal == pytest.approx(float(full.diagonal().sum()), rel=1e-12)
    assert kernel_sums(kernel, x[:10], x[10:], block_size=4).total == pytest.approx(float(full[:10, 10:].sum()))


def test_kernels_work_on_batches_of_problems(rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.standard_normal((4, 6, 3)))  # e.g. 4 pixels, 6 samples each
    batched = RBFKernel(0.3)(x, x)
    assert batched.shape == (4, 6, 6)
    assert torch.allclose(batched[2], RBFKernel(0.3)(x[2], x[2]))


def test_mmd_rbf_matches_torch_fidelity(rng: np.random.Generator) -> None:
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    x, y = rng.standard_normal((60, 8)), rng.standard_normal((60, 8)) * 1.2
    sigma = 2.5
    peer = metric_kid.kernel_mmd(x, y, kid_kernel="rbf", kid_kernel_rbf_sigma=sigma)
    ours = mmd(x, y, RBFKernel.from_bandwidth(sigma)).value
    assert ours == pytest.approx(float(peer), rel=1e-10)


def test_mmd_poly_matches_torchmetrics(rng: np.random.Generator) -> None:
    tm_kid = pytest.importorskip("torchmetrics.image.kid")
    x, y = rng.standard_normal((80, 16)), rng.standard_normal((80, 16)) + 0.2
    peer = float(tm_kid.poly_mmd(torch.from_numpy(x), torch.from_numpy(y)))
    assert mmd(x, y, "poly").value == pytest.approx(peer, rel=1e-10)


def test_kid_matches_torch_fidelity_with_the_same_subsets(rng: np.random.Generator) -> None:
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    x = np.abs(rng.standard_normal((260, 64)))
    y = np.abs(rng.standard_normal((230, 64))) * 1.1
    peer = metric_kid.kid_features_to_metric(
        torch.from_numpy(x), torch.from_numpy(y), kid_subsets=20, kid_subset_size=100, rng_seed=7, verbose=False)
    ours = kid(x, y, subsets=20, subset_size=100, seed=7)
    assert abs(ours.mean - peer["kernel_inception_distance_mean"]) <= 1e-6 * abs(ours.mean)
    assert abs(ours.std - peer["kernel_inception_distance_std"]) <= 1e-6 * abs(ours.std)
    assert float(ours) == ours.mean


def test_kid_on_float32_features_keeps_float64_accuracy(rng: np.random.Generator) -> None:
    """Float32 features are multiplied in float32 (twice the speed); the value moves by far less than
    the subsets' spread, and matches torch-fidelity on the same float32 features."""
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    x = np.abs(rng.standard_normal((400, 256))).astype(np.float32)
    y = (np.abs(rng.standard_normal((400, 256))) * 1.05).astype(np.float32)
    single = kid(x, y, subsets=10, subset_size=200, seed=3)
    double = kid(x.astype(np.float64), y.astype(np.float64), subsets=10, subset_size=200, seed=3)
    assert single.mean != double.mean  # it did run in float32
    assert abs(single.mean - double.mean) <= 1e-4 * double.std
    peer = metric_kid.kid_features_to_metric(torch.from_numpy(x), torch.from_numpy(y), kid_subsets=10,
                                             kid_subset_size=200, rng_seed=3, verbose=False)
    assert abs(single.mean - peer["kernel_inception_distance_mean"]) <= 1e-3 * double.std


def test_kid_clips_subset_size_with_a_warning(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((40, 4)), rng.standard_normal((25, 4))
    with pytest.warns(SubsetSizeClippedWarning, match="using subsets of 25"):
        result = kid(x, y, subsets=5)
    assert result.subset_size == 25
    with pytest.raises(TooFewSamplesError, match="at least 2"):
        kid(x, y[:1])


def test_kernel_metric_errors(rng: np.random.Generator) -> None:
    x = rng.standard_normal((10, 3))
    with pytest.raises(ConfigError, match="unknown kernel"):
        mmd(x, x, "laplace")
    with pytest.raises(ConfigError, match="estimator"):
        cms(x, x, estimator="u-stat")
    with pytest.raises(TooFewSamplesError, match="at least 2"):
        mmd(x[:1], x, estimator="unbiased")
    with pytest.raises(InputError, match="undefined"):  # centred data: unbiased |μ|² under a linear kernel < 0
        cms(x - x.mean(0), x - x.mean(0), "linear", estimator="unbiased")
    with pytest.raises(InputError, match="median pairwise distance is 0"):
        mmd(np.ones((5, 2)), np.ones((5, 2)))
    with pytest.raises(InputError, match="gamma"):
        RBFKernel(-1.0)


def test_rbf_gamma_accepts_numpy_and_torch_scalars() -> None:
    assert RBFKernel(np.float32(0.5)).gamma == 0.5
    assert RBFKernel(torch.tensor(0.25)).to_dict()["gamma"] == 0.25
    with pytest.raises(InputError, match="gamma"):
        RBFKernel(float("nan"))
