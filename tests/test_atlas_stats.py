"""Atlas statistics against independent implementations (scipy) and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import binomtest, entropy

from genlens.atlas import stats


def test_kl_and_js_match_scipy_on_the_same_histograms(rng):
    coords_r = rng.random((3000, 2)) ** 1.5
    coords_g = rng.random((2000, 2))
    grid, alpha = 20, 0.5
    r = stats.histogram(stats.cell_index(coords_r, grid), grid)
    g = stats.histogram(stats.cell_index(coords_g, grid), grid)
    p, q = (r + alpha) / (r.sum() + alpha * r.size), (g + alpha) / (g.sum() + alpha * g.size)
    d = stats.divergences(r, g, alpha)
    assert d["kl_real_fake"] == pytest.approx(entropy(p, q), rel=1e-10)
    assert d["kl_fake_real"] == pytest.approx(entropy(q, p), rel=1e-10)
    assert d["js"] == pytest.approx(jensenshannon(r, g) ** 2, rel=1e-9)  # scipy returns the distance (sqrt)


def test_js_with_disjoint_support_is_ln2_and_zero_for_identical():
    a = np.array([3.0, 0.0, 5.0, 0.0])
    b = np.array([0.0, 2.0, 0.0, 7.0])
    assert stats.js(a, b) == pytest.approx(np.log(2))
    assert stats.js(a, 2 * a) == pytest.approx(0.0, abs=1e-15)


def test_every_point_lands_in_exactly_one_cell_including_borders():
    coords = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.999999], [0.05, 0.05]])
    cells = stats.cell_index(coords, 10)
    assert cells.tolist() == [0, 99, 95, 0]
    assert stats.histogram(cells, 10).sum() == 4


def test_binomial_p_values_match_scipy_and_bh_controls(rng):
    r = rng.integers(0, 30, 50).astype(float)
    g = rng.integers(0, 30, 50).astype(float)
    g[:3] = 0
    r[:3] = 60  # planted real excess
    p, q = stats.binomial_test(r, g)
    share = g.sum() / (r.sum() + g.sum())
    for i in range(10):
        n = int(r[i] + g[i])
        if n:
            assert p[i] == pytest.approx(min(1.0, 2 * min(
                binomtest(int(g[i]), n, share, alternative="less").pvalue,
                binomtest(int(g[i]), n, share, alternative="greater").pvalue)), rel=1e-8)
    assert (q[:3] < 1e-6).all() and (q >= p - 1e-12).all()


def test_cell_means_and_log_ratio(rng):
    values = rng.normal(size=(500, 4))
    cells = rng.integers(0, 9, 500)
    means, counts = stats.cell_means(values, cells, 9)
    for c in range(9):
        assert np.allclose(means[c], values[cells == c].mean(0))
        assert counts[c] == (cells == c).sum()
    r, g = np.array([10.0, 0.0]), np.array([0.0, 10.0])
    ratio = stats.log_ratio(r, g, 0.5)
    assert ratio[0] < 0 < ratio[1] and ratio[0] == pytest.approx(np.log(0.5 / 11) - np.log(10.5 / 11))


def test_noise_floor_is_zero_excess_for_identical_distributions_and_positive_for_shifted(rng):
    n = 4000
    real_cells = stats.cell_index(rng.random((n, 2)), 10)
    same = stats.cell_index(rng.random((n, 2)), 10)
    shifted = stats.cell_index(rng.random((n, 2)) ** 2, 10)
    ids = np.arange(n)
    null = stats.noise_floor(real_cells, ids, same, ids, 10, 0.5, splits=8)
    alt = stats.noise_floor(real_cells, ids, shifted, ids, 10, 0.5, splits=8)
    assert abs(null.excess["js"]) < 0.5 * null.floor["js"]
    assert alt.excess["js"] > 5 * alt.floor["js"]
