"""Layout: balanced joint fit, fit-on-real reference mode, percentile-clipped unit-square normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from genlens.atlas.layout import LayoutConfig, fit_layout
from genlens.errors import ConfigError

PCA = LayoutConfig(method="pca", clip_percentile=1.0, margin=0.1)


def _data(rng, n_real=1000, n_fake=100):
    values = rng.normal(size=(n_real + n_fake, 8)) * np.array([5, 2, 1, 1, 1, 1, 1, 1])
    return values, np.r_[np.zeros(n_real, np.int8), np.ones(n_fake, np.int8)]


def test_joint_fit_uses_a_balanced_pool(rng):
    values, sets = _data(rng)
    layout, coords = fit_layout(values, sets, PCA)
    assert layout._pca.n_samples_ == 200  # 100 real + 100 fake, so neither set dominates the axes
    assert coords.shape == (1100, 2) and coords.min() >= 0 and coords.max() <= 1


def test_reference_mode_fits_on_real_and_places_others_identically(rng):
    values, sets = _data(rng)
    layout, coords = fit_layout(values, sets, LayoutConfig(method="pca", mode="reference"))
    assert layout._pca.n_samples_ == 1000
    np.testing.assert_allclose(layout.place(values[sets == 1]), coords[sets == 1], atol=1e-6)


def test_percentile_clipping_maps_the_1st_and_99th_percentiles_inside_the_margin(rng):
    values, sets = _data(rng, 2000, 2000)
    _, coords = fit_layout(values, sets, PCA)
    lo, hi = np.percentile(coords, 1, axis=0), np.percentile(coords, 99, axis=0)
    np.testing.assert_allclose(lo, 0.1 / 1.2, atol=1e-6)
    np.testing.assert_allclose(hi, 1.1 / 1.2, atol=1e-6)
    assert ((coords == 0) | (coords == 1)).any(axis=1).mean() < 0.02  # only the clipped tail sits on the border


def test_bad_activations_are_refused(rng):
    values, sets = _data(rng, 20, 20)
    values[3, 2] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        fit_layout(values, sets, PCA)
    with pytest.raises(ConfigError, match="at least 10"):
        fit_layout(rng.normal(size=(8, 4)), np.zeros(8, np.int8), PCA)
    with pytest.raises(ConfigError, match="mode"):
        fit_layout(rng.normal(size=(40, 4)), np.zeros(40, np.int8), LayoutConfig(mode="both"))  # type: ignore[arg-type]


def test_shared_layouts_put_every_checkpoint_on_one_map():
    """The second call reuses the first call's fitted map: the real points land exactly where they did."""
    from genlens.atlas.analysis import analyze_atlas
    from genlens.atlas.layout import LayoutConfig
    from genlens.zoo import make_generator, real_source

    real = real_source(40, seed=0)
    shared: dict = {}
    config = LayoutConfig(method="pca", mode="reference")
    kwargs = dict(model="zoo-classifier", layers=["block2"], grids=(4,), quick=True, splits=2,
                  layout=config, shared_layouts=shared)
    first = analyze_atlas(real, make_generator("clean", seed=1).as_source(40), **kwargs)
    assert set(shared) == {"block2"}
    fitted = shared["block2"]
    # A fresh joint fit on this pair would move the real points; the shared map must not.
    kwargs["layout"] = LayoutConfig(method="pca", mode="joint")
    fake = make_generator("color_shift_region", box=(0, 0, 16, 16), seed=2).as_source(40)
    second = analyze_atlas(real, fake, **kwargs)
    assert shared["block2"] is fitted
    is_real = first.layers[0].set_index == 0
    np.testing.assert_array_equal(first.layers[0].coords[is_real], second.layers[0].coords[second.layers[0].set_index == 0])
    unshared = analyze_atlas(real, fake, **{**kwargs, "shared_layouts": None})
    assert not np.array_equal(unshared.layers[0].coords[is_real], first.layers[0].coords[is_real])


def _blobs(rng, n_per=150, dim=16):
    """Three well-separated directions (the layout's metric is cosine), ``n_per`` rows each."""
    centres = np.eye(dim)[:3] * 10.0
    values = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres])
    return values.astype(np.float32), np.repeat(np.arange(3), n_per)


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_anchored_layout_places_new_rows_among_their_own_blob(rng, method):
    from genlens.atlas.layout import AnchoredLayout

    values, blob = _blobs(rng)
    anchored = AnchoredLayout.fit(values, np.arange(len(values)), LayoutConfig(method=method, n_neighbors=15))
    new, new_blob = _blobs(rng)
    placed = anchored.place(new)
    centres = np.stack([anchored.coords[blob == b].mean(0) for b in range(3)])
    nearest = np.argmin(((placed[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == new_blob) > 0.98
    # frozen into arrays and back: the same placement, so every process shares one map
    again = AnchoredLayout.from_arrays(anchored.to_arrays(prefix="x_"), prefix="x_")
    np.testing.assert_array_equal(again.place(new), placed)


def test_anchored_layout_skips_a_rows_own_group(rng):
    from genlens.atlas.layout import AnchoredLayout

    values, _ = _blobs(rng, n_per=40)
    anchored = AnchoredLayout.fit(values, np.arange(len(values)), PCA, k=1)
    np.testing.assert_allclose(anchored.place(values), anchored.coords, atol=1e-5)  # k=1: its own anchor
    loo = anchored.place(values, groups=np.arange(len(values)))
    assert np.abs(loo - anchored.coords).max(axis=1).min() > 0  # never its own anchor


def test_a_umap_layout_leaves_torchs_thread_count_alone(rng):
    import torch

    values, sets = _data(rng, n_real=300, n_fake=300)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        layout, _ = fit_layout(values, sets, LayoutConfig(n_neighbors=10))
        layout.place(values[:50])
        assert torch.get_num_threads() == 1  # pynndescent sets OpenMP's count, which torch shares
    finally:
        torch.set_num_threads(before)


def test_cosine_neighbours_are_the_exact_nearest_rows_self_first(rng):
    from genlens.atlas.layout import cosine_neighbours

    values = rng.normal(size=(300, 6)).astype(np.float32)
    values[7] = values[3] * 2.0  # a duplicate direction: distance 0 to row 3, yet each row lists itself first
    indices, distances = cosine_neighbours(values, k=10, chunk=64)  # several chunks
    unit = values / np.linalg.norm(values, axis=1, keepdims=True)
    brute = 1.0 - unit.astype(np.float64) @ unit.T.astype(np.float64)
    np.fill_diagonal(brute, -1.0)
    expected = np.argsort(brute, axis=1, kind="stable")[:, :10]
    assert (indices[:, 0] == np.arange(300)).all() and (distances[:, 0] == 0).all()
    np.testing.assert_allclose(distances[:, 1:], np.take_along_axis(np.maximum(brute, 0), expected[:, 1:], 1),
                               atol=1e-6)
    assert (np.diff(distances, axis=1) >= 0).all()
    assert indices[3, 1] == 7 and indices[7, 1] == 3


def test_rows_outside_the_balanced_pool_land_next_to_their_nearest_fitted_rows(rng):
    """UMAP fits on the pool; the larger set's extra rows are placed from their nearest fitted rows."""
    pytest.importorskip("umap")
    centres = rng.normal(size=(4, 10)) * 6
    labels = np.repeat(np.arange(4), 150)
    values = (centres[labels] + rng.normal(size=(600, 10))).astype(np.float32)
    sets = np.r_[np.zeros(400, np.int8), np.ones(200, np.int8)]  # 200 real rows are not in the pool
    layout, coords = fit_layout(values, sets, LayoutConfig(n_epochs=50))
    centre_of = np.stack([np.median(coords[labels == c], axis=0) for c in range(4)])
    nearest = np.argmin(((coords[:, None, :] - centre_of[None]) ** 2).sum(-1), axis=1)
    assert (nearest == labels).mean() > 0.97  # every row, fitted or placed, sits with its own cluster
    # place() is the rule that put the 200 real rows outside the pool (and only those) where they are
    same = np.isclose(layout.place(values), coords, atol=1e-6).all(axis=1)
    assert same[sets == 0].sum() == 200 and not same[sets == 1].any()
