"""Jacobian modes against torch.autograd.functional.jacobian, and invariances of the metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genlens.errors import ConfigError, InputError, TooFewSamplesError
from genlens.manifold import analyze, collect_stats, flat_decoder, full_jacobian, jacobian_column
from genlens.manifold.collect import sample_prior


def mlp(d: int, out: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, out), nn.Softplus()).double().eval()


class TinyConvDecoder(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.fc = nn.Linear(d, 4 * 2 * 2)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), nn.GELU(), nn.Conv2d(3, 2, 3, padding=1)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.up(self.fc(z).view(-1, 4, 2, 2)))


def reference_jacobians(g, z: torch.Tensor) -> torch.Tensor:
    """One sample at a time with torch.autograd.functional.jacobian: (N, D, d)."""
    return torch.stack([torch.autograd.functional.jacobian(lambda v: g(v[None]).flatten(), zi) for zi in z])


@pytest.mark.parametrize("direction", ["forward", "reverse"])
@pytest.mark.parametrize("net", ["mlp-wide", "mlp-narrow", "conv"])
def test_full_jacobian_equals_autograd(net: str, direction: str) -> None:
    if net == "conv":
        model, d = TinyConvDecoder(3).double().eval(), 3
    else:
        d = 3 if net == "mlp-wide" else 7
        model = mlp(d, 11 if net == "mlp-wide" else 2, seed=d)
    z = sample_prior(d, 6, seed=0).double()
    g = flat_decoder(model)
    ref = reference_jacobians(model, z)
    ours = full_jacobian(g, z, ref.shape[1], direction=direction)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    stats = collect_stats(model, z, batch_size=4, direction=direction)
    np.testing.assert_allclose(stats.gram, torch.einsum("bki,bkj->bij", ref, ref).numpy(), rtol=1e-10)
    np.testing.assert_allclose(stats.column_means(), ref.mean(0).T.numpy(), rtol=1e-10, atol=1e-14)


def test_columns_and_stochastic_modes_measure_the_same_columns() -> None:
    model, d = mlp(4, 9, seed=2), 4
    z = sample_prior(d, 10, seed=1).double()
    ref_sq = reference_jacobians(model, z).pow(2).sum(1).numpy()  # (N, d)
    cols = collect_stats(model, z, mode="columns", batch_size=3)
    np.testing.assert_allclose(cols.sq_norms, ref_sq, rtol=1e-10)
    assert cols.gram is None
    sto = collect_stats(model, z, mode="stochastic", batch_size=3, seed=5)
    np.testing.assert_allclose(sto.sq_norms, ref_sq[np.arange(10), sto.axes], rtol=1e-10)
    counts = np.bincount(sto.axes, minlength=d)
    assert counts.min() >= 10 // d and counts.max() <= 10 // d + 1  # stratified
    col = jacobian_column(flat_decoder(model), z, torch.as_tensor(sto.axes))
    assert col.shape == (10, 9)


def test_conditional_decoder_jacobian() -> None:
    model = mlp(5, 6, seed=3)

    def decoder(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return model(torch.cat([z, c], dim=1))

    z = sample_prior(3, 5, seed=2).double()
    c = torch.eye(2, dtype=torch.float64)[[0, 1, 1, 0, 1]]
    ref = torch.stack([
        torch.autograd.functional.jacobian(lambda v: decoder(v[None], ci[None]).flatten(), zi)
        for zi, ci in zip(z, c)
    ])
    stats = collect_stats(decoder, z, condition=c, batch_size=2)
    np.testing.assert_allclose(stats.gram, torch.einsum("bki,bkj->bij", ref, ref).numpy(), rtol=1e-10)


def test_stochastic_and_columns_modes_agree_with_full_mode() -> None:
    model, d = mlp(5, 12, seed=4), 5
    full = analyze(model, d, n=2000, n_boot=100, seed=3)
    cols = analyze(model, d, n=2000, n_boot=0, seed=3, mode="columns")
    np.testing.assert_allclose(cols.entropy, full.entropy, atol=1e-10)
    sto = analyze(model, d, n=2000, n_boot=100, seed=4, mode="stochastic")
    # unbiased: the stochastic estimate lies within Monte-Carlo error of the full one
    half = (sto.entropy_ci[:, 1] - sto.entropy_ci[:, 0]) / 2 + (full.entropy_ci[:, 1] - full.entropy_ci[:, 0]) / 2
    assert np.all(np.abs(sto.entropy - full.entropy) <= half)
    assert sto.pairwise_mi is None and sto.total_correlation is None


def test_monotone_reparametrisation_leaves_mi_and_mtc_unchanged() -> None:
    """u = sinh(z): the decoder g(asinh(u)) with prior sinh(N(0,1)) is the same model in new coordinates."""
    model, d = mlp(3, 8, seed=5), 3

    def prior_u(n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.sinh(torch.randn(n, d, generator=gen, dtype=torch.float64))

    def decoder_u(u: torch.Tensor) -> torch.Tensor:
        return model(torch.asinh(u))

    def prior_z(n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(n, d, generator=gen, dtype=torch.float64)

    base = analyze(model, d, n=1500, prior=prior_z, seed=1, n_boot=200)
    same = analyze(decoder_u, d, n=1500, prior=prior_u, seed=1, n_boot=0)
    other = analyze(decoder_u, d, n=1500, prior=prior_u, seed=2, n_boot=200)
    # at the same underlying z the cosines are identical point by point
    np.testing.assert_allclose(same.pairwise_mi, base.pairwise_mi, atol=1e-9)
    assert same.total_correlation == pytest.approx(base.total_correlation, abs=1e-9)
    # on independent samples they agree within Monte-Carlo error
    def half(ci: np.ndarray) -> np.ndarray:
        return (ci[..., 1] - ci[..., 0]) / 2

    tol = half(base.pairwise_mi_ci) + half(other.pairwise_mi_ci)
    assert np.all(np.abs(other.pairwise_mi - base.pairwise_mi) <= tol)
    assert abs(other.total_correlation - base.total_correlation) <= half(
        np.array(base.total_correlation_ci)) + half(np.array(other.total_correlation_ci))
    assert base.total_correlation > 0.01  # the check is not vacuous: the net is entangled
    # the entropies are *not* invariant: they depend on the latent coordinates' scale
    assert np.all(np.abs(same.entropy - base.entropy) > 0.05)


def test_degenerate_columns_are_inactive_never_nan() -> None:
    a = torch.randn(10, 4, generator=torch.Generator().manual_seed(7))
    a[:, 1] = 0.0  # unused latent
    a[:, 3] = a[:, 0]  # duplicate direction
    res = analyze(lambda z: z @ a.T, 4, n=20, n_boot=20)
    out = res.to_dict()
    assert out["inactive"] == [1]
    assert all(np.isfinite(v) for v in out["entropy"])
    assert np.isfinite(res.pairwise_mi).all() and np.isfinite(res.total_correlation)
    assert res.pairwise_mi[1].max() == 0.0
    assert res.pairwise_mi[0, 3] == pytest.approx(0.5 * np.log(1e12), rel=1e-6)  # capped, documented
    assert res.order[-1] == 1


def test_decoder_ignoring_its_latents_has_no_active_dimension() -> None:
    # like a collapsed VAE: a fixed image (values spread over [0, 1]) barely moved by one latent
    image = torch.tensor([0.0, 0.3, 0.6, 1.0])
    res = analyze(lambda z: image + 1e-6 * torch.tanh(z[:, :1]) + 0 * z.sum(1, keepdim=True), 3, n=10)
    assert res.n_active == 0
    assert res.total_correlation == 0.0 and np.isfinite(res.entropy).all()
    constant = analyze(lambda z: torch.ones(z.shape[0], 4) + 0 * z.sum(1, keepdim=True), 2, n=5, n_boot=5)
    assert constant.n_active == 0 and np.isfinite(constant.entropy).all()


def test_bad_input_is_reported_clearly() -> None:
    model = mlp(2, 3, seed=0)
    with pytest.raises(ConfigError, match="mode"):
        analyze(model, 2, n=10, mode="magic")  # type: ignore[arg-type]
    with pytest.raises(TooFewSamplesError):
        analyze(model, 2, n=1)
    with pytest.raises(TooFewSamplesError):
        analyze(model, 8, n=4, mode="stochastic")
    with pytest.raises(InputError, match="NaN"):
        collect_stats(model, torch.full((3, 2), float("nan")))
    with pytest.raises(InputError, match="prior sampler"):
        analyze(model, 2, n=10, prior=lambda n, g: torch.zeros(n, 3))
    with pytest.raises(InputError, match="one row per latent"):
        analyze(lambda z: torch.zeros(3), 2, n=4)


def test_decoders_vmap_cannot_batch_fall_back_to_one_pass_per_column(monkeypatch: pytest.MonkeyPatch) -> None:
    model, d = mlp(3, 5, seed=6), 3
    z = sample_prior(d, 4, seed=0).double()
    expected = reference_jacobians(model, z)

    def no_batching_rule(*args, **kwargs):
        raise RuntimeError("vmap: no batching rule implemented for aten::some_op")

    monkeypatch.setattr(torch.func, "vmap", no_batching_rule)
    for direction in ("forward", "reverse"):
        torch.testing.assert_close(full_jacobian(flat_decoder(model), z, 5, direction=direction), expected)


def test_non_finite_jacobian_is_an_input_error() -> None:
    with pytest.raises(InputError, match="Jacobian is NaN"):
        analyze(lambda z: torch.sqrt(z.abs() * 0.0), 2, n=4)  # d sqrt(x)/dx at 0 is infinite
