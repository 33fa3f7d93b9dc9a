"""Real models, real data: beta-VAEs on scikit-learn's digits lose active dimensions as beta grows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens.manifold import analyze, cross_model_mi
from genlens.zoo.models.digits_vae import load_digits_tensor, vae

BETAS = (0.25, 1.0, 2.0, 4.0)


@pytest.mark.slow
def test_active_dimensions_fall_as_beta_grows() -> None:
    counts = []
    for beta in BETAS:
        model = vae(beta, latent_dim=10, quick=True)
        res = analyze(model.decode, 10, n=300, n_boot=50)
        counts.append(res.n_active)
        assert np.isfinite(res.entropy).all() and np.isfinite(res.pairwise_mi).all()
        # the ranking puts every active dimension above every inactive one
        assert res.active[res.order[: res.n_active]].all()
    assert all(a >= b for a, b in zip(counts, counts[1:])), counts
    assert counts[0] >= 3 and counts[-1] < counts[0], counts


@pytest.mark.slow
def test_vae_cross_model_mi_at_encoded_digits() -> None:
    """Two VAEs (different seeds) at the same digits: their active dimensions share directions."""
    images, _ = load_digits_tensor()
    a = vae(0.25, latent_dim=10, quick=True, seed=0)
    b = vae(0.25, latent_dim=10, quick=True, seed=1)
    x = images[:200]
    with torch.no_grad():
        z_a, z_b = a.encode(x)[0], b.encode(x)[0]
    res = cross_model_mi(a.decode, z_a, b.decode, z_b, names=("seed 0", "seed 1"), n_boot=20)
    assert res.mi.shape == (10, 10)
    assert res.active_a.sum() >= 3 and res.active_b.sum() >= 3
    # inactive dimensions share nothing; each active dimension of a shares most with an active one of b
    assert np.all(res.mi[~res.active_a] == 0) and np.all(res.mi[:, ~res.active_b] == 0)
    best = res.mi[res.active_a].argmax(axis=1)
    assert res.active_b[best].all()
    assert res.mi[res.active_a].max(axis=1).min() > 0.05
