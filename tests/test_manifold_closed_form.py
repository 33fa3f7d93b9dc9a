"""Manifold metrics of linear decoders g(z) = A z against their closed forms (independent numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlens.errors import ConfigError
from genlens.manifold import H0, analyze, cross_model_mi, index_set_mi, set_mi_samples
from genlens.manifold.collect import collect_stats, sample_prior


def closed_forms(a: np.ndarray) -> dict[str, np.ndarray | float]:
    """H_i = h0 + log||a_i||, I_ij = -1/2 log(1 - cos^2), MTC = -1/2 log det C, H = d h0 + 1/2 log det A^T A."""
    norms = np.linalg.norm(a, axis=0)
    cos = (a.T @ a) / np.outer(norms, norms)
    d = a.shape[1]
    mi = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            if i != j:
                mi[i, j] = -0.5 * math.log(1.0 - cos[i, j] ** 2)
    return {
        "entropy": H0 + np.log(norms),
        "mi": mi,
        "mtc": -0.5 * np.linalg.slogdet(cos)[1],
        "total": d * H0 + 0.5 * np.linalg.slogdet(a.T @ a)[1],
        "cos": cos,
    }


def linear(a: torch.Tensor):
    return lambda z: z @ a.T


@pytest.mark.parametrize("shape", [(6, 6), (40, 7)], ids=["square", "tall"])
@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_linear_decoder_matches_closed_forms(shape: tuple[int, int], direction: str) -> None:
    gen = torch.Generator().manual_seed(sum(shape))
    a = torch.randn(*shape, generator=gen)
    expect = closed_forms(a.double().numpy())
    res = analyze(linear(a), shape[1], n=64, n_boot=50, direction=direction)
    np.testing.assert_allclose(res.entropy, expect["entropy"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.pairwise_mi, expect["mi"], atol=1e-6, rtol=0)
    assert res.total_correlation == pytest.approx(expect["mtc"], abs=1e-6)
    assert res.total_entropy == pytest.approx(expect["total"], abs=1e-6)
    assert res.sum_entropy == pytest.approx(res.total_entropy + res.total_correlation, abs=1e-9)
    assert res.active.all()
    np.testing.assert_array_equal(res.order, np.argsort(-expect["entropy"]))
    # a constant Jacobian has no sampling noise: the intervals collapse onto the value
    np.testing.assert_allclose(res.entropy_ci[:, 0], expect["entropy"], atol=1e-6)


def test_without_h0_every_entropy_drops_by_h0() -> None:
    a = torch.randn(9, 4, generator=torch.Generator().manual_seed(1))
    with_h0 = analyze(linear(a), 4, n=8, n_boot=0)
    without = analyze(linear(a), 4, n=8, n_boot=0, include_h0=False)
    np.testing.assert_allclose(with_h0.entropy - without.entropy, H0, atol=1e-12)
    assert with_h0.total_entropy - without.total_entropy == pytest.approx(4 * H0)
    assert with_h0.total_correlation == pytest.approx(without.total_correlation)
    assert without.to_dict()["h0_included"] is False


def test_orthogonal_columns_give_zero_mutual_information() -> None:
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(20, 5)))
    a = torch.from_numpy(q * np.array([3.0, 1.0, 0.5, 2.0, 0.2]))
    res = analyze(linear(a.float()), 5, n=16, n_boot=0)
    np.testing.assert_allclose(res.pairwise_mi, 0.0, atol=1e-6)
    assert res.total_correlation == pytest.approx(0.0, abs=1e-6)
    assert res.top_pairs() == []


def test_mi_between_index_sets_matches_log_determinants() -> None:
    a = torch.randn(15, 6, generator=torch.Generator().manual_seed(2)).double()
    stats = collect_stats(linear(a), sample_prior(6, 4, 0).double())
    cos = closed_forms(a.numpy())["cos"]

    def logdet(idx: list[int]) -> float:
        return np.linalg.slogdet(cos[np.ix_(idx, idx)])[1]

    s, t = [0, 2], [1, 4, 5]
    expect = 0.5 * (logdet(s) + logdet(t) - logdet(s + t))
    np.testing.assert_allclose(set_mi_samples(stats.gram, s, t), expect, atol=1e-9)
    value, (lo, hi) = index_set_mi(stats, s, t, n_boot=20)
    assert value == pytest.approx(expect, abs=1e-9) and lo == pytest.approx(expect) and hi == pytest.approx(expect)
    with pytest.raises(ConfigError, match="index sets"):
        index_set_mi(stats, [0], [6])
    # a pair of single dimensions is the pairwise MI; overlapping sets share H(S n T)
    pair = closed_forms(a.numpy())["mi"][1, 3]
    np.testing.assert_allclose(set_mi_samples(stats.gram, [1], [3]), pair, atol=1e-9)
    np.testing.assert_allclose(
        set_mi_samples(stats.gram, [0, 1], [1]), H0 + math.log(np.linalg.norm(a[:, 1].numpy())), atol=1e-9
    )


def test_class_conditional_metrics_average_over_classes() -> None:
    gen = torch.Generator().manual_seed(3)
    mats = torch.randn(3, 10, 4, generator=gen)

    def decoder(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bk,kij,bj->bi", c, mats, z)

    res = analyze(decoder, 4, n=30, classes=["x", "y", "z"], n_boot=20)
    forms = [closed_forms(m.double().numpy()) for m in mats]
    np.testing.assert_allclose(res.class_entropy, np.stack([f["entropy"] for f in forms]), atol=1e-6)
    np.testing.assert_allclose(res.entropy, np.mean([f["entropy"] for f in forms], 0), atol=1e-6)
    np.testing.assert_allclose(res.pairwise_mi, np.mean([f["mi"] for f in forms], 0), atol=1e-6)
    assert res.total_correlation == pytest.approx(np.mean([f["mtc"] for f in forms]), abs=1e-6)
    np.testing.assert_allclose(res.class_column_means[1], mats[1].T.double().numpy(), atol=1e-6)
    assert res.to_dict()["classes"] == ["x", "y", "z"]


def test_cross_model_mi_of_linear_decoders() -> None:
    gen = torch.Generator().manual_seed(4)
    a, b = torch.randn(12, 3, generator=gen), torch.randn(12, 5, generator=gen)
    z_a, z_b = torch.randn(40, 3, generator=gen), torch.randn(40, 5, generator=gen)
    res = cross_model_mi(linear(a), z_a, linear(b), z_b, n_boot=20)
    an, bn = a.double().numpy(), b.double().numpy()
    cos = (an.T @ bn) / np.outer(np.linalg.norm(an, axis=0), np.linalg.norm(bn, axis=0))
    np.testing.assert_allclose(res.mi, -0.5 * np.log(1 - cos**2), atol=1e-6)
    np.testing.assert_allclose(res.pearson, np.corrcoef(z_a.T, z_b.T)[:3, 3:], atol=1e-9)
    assert res.mi.shape == (3, 5)


def test_cross_model_mi_finds_a_permuted_copy() -> None:
    a = torch.randn(30, 4, generator=torch.Generator().manual_seed(5))
    perm = torch.tensor([2, 0, 3, 1])
    z = torch.randn(50, 4, generator=torch.Generator().manual_seed(6))
    # model b uses the same directions, its latent j being a's latent perm[j], rescaled
    b = a[:, perm] / 2.0
    res = cross_model_mi(linear(a), z, linear(b), 2.0 * z[:, perm], n_boot=0)
    best = res.mi.argmax(axis=0)
    np.testing.assert_array_equal(best, perm.numpy())
    np.testing.assert_allclose(np.abs(res.pearson).argmax(axis=0), perm.numpy())


def test_flow_log_det_gives_total_entropy_in_columns_mode() -> None:
    """A flow (D = d) supplies log|det J|: H and MTC without any Gram matrix."""
    a = torch.randn(5, 5, generator=torch.Generator().manual_seed(8))
    log_det = float(torch.linalg.slogdet(a.double())[1])
    res = analyze(linear(a), 5, n=16, n_boot=10, mode="columns",
                  log_det=lambda z: torch.full((z.shape[0],), log_det))
    expect = closed_forms(a.double().numpy())
    assert res.pairwise_mi is None and res.total_entropy_source == "flow-log-det"
    assert res.total_entropy == pytest.approx(expect["total"], abs=1e-6)
    assert res.total_correlation == pytest.approx(expect["mtc"], abs=1e-6)
    np.testing.assert_allclose(res.entropy, expect["entropy"], atol=1e-6)
