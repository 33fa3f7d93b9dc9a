"""Atlas statistics against independent implementations (scipy) and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

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


def _clustered_null(rng, n_images=200, positions=4, grid=8):
    """Images whose activations sit together (one image's positions fall in neighbouring cells), with
    labels independent of everything: the null hypothesis, as a real image set has it."""
    centre = rng.random((n_images, 2))
    coords = np.clip(centre[:, None, :] + 0.03 * rng.normal(size=(n_images, positions, 2)), 0, 1).reshape(-1, 2)
    image = np.repeat(np.arange(n_images), positions)
    is_fake = np.zeros(n_images, dtype=bool)
    is_fake[rng.permutation(n_images)[: n_images // 2]] = True
    return stats.image_counts(stats.cell_index(coords, grid), image, n_images, grid * grid), is_fake


def test_cell_z_is_standardised_by_the_exact_permutation_mean_and_variance():
    from itertools import combinations

    counts = np.array([[2, 0, 1], [0, 0, 3], [1, 1, 0], [0, 2, 1], [3, 0, 0], [0, 1, 2]], dtype=float)
    fake = np.array([1, 0, 1, 0, 0, 1], dtype=bool)
    sums = np.array([counts[list(rows)].sum(axis=0) for rows in combinations(range(6), 3)])  # every labelling
    expected = (counts[fake].sum(axis=0) - sums.mean(axis=0)) / sums.std(axis=0)
    test = stats.cell_permutation_test([stats.sparse.csr_matrix(counts)], fake, permutations=99, seed=0)
    np.testing.assert_allclose(test.z[0], expected, rtol=1e-12)


def test_the_max_statistic_adjustment_equals_a_brute_force_count():
    rng = np.random.default_rng(3)
    counts, fake = _clustered_null(rng, n_images=60)
    test = stats.cell_permutation_test([counts, counts[:, ::-1]], fake, permutations=300, seed=5)
    # the same permutations, drawn again, scored one by one
    labels = np.zeros((300, 60))
    labels[:, : fake.sum()] = 1.0
    labels = np.random.default_rng(5).permuted(labels, axis=1)
    dense = counts.toarray()
    mean, sd = fake.sum() * dense.mean(0), np.sqrt(fake.sum() * (60 - fake.sum()) / (60 * 59) * ((dense - dense.mean(0)) ** 2).sum(0))
    live = sd > 0
    null = np.array([np.abs((l @ dense[:, live] - mean[live]) / sd[live]).max() for l in labels])
    np.testing.assert_allclose(np.sort(test.max_null), np.sort(null), rtol=1e-10)
    for z, p in zip(test.z[0][live], test.p_family[0][live]):
        assert p == pytest.approx((1 + (null >= abs(z) - 1e-9).sum()) / 301)


def test_cells_of_images_with_clustered_activations_give_few_false_alarms(rng):
    """The image, not the activation, is the unit: an activation-level binomial test calls these
    clustered null sets different far more often than its level; the permutation test does not."""
    from scipy.stats import binomtest

    alarms, binomial_alarms = 0, 0
    for _ in range(40):
        counts, fake = _clustered_null(rng)
        test = stats.cell_permutation_test([counts], fake, permutations=199, seed=int(rng.integers(1 << 30)))
        alarms += bool((test.p_family[0] <= 0.05).any())
        dense = counts.toarray()
        g, n = dense[fake].sum(0), dense.sum(0)
        p = [binomtest(int(gi), int(ni), 0.5).pvalue for gi, ni in zip(g, n) if ni > 0]
        binomial_alarms += bool(min(p) * len(p) <= 0.05)  # Bonferroni over the cells
    assert alarms <= 6  # 5% of 40 is 2; a 6 leaves room for chance
    assert binomial_alarms >= 15  # what counting activations as independent does


def test_a_cell_that_the_generated_images_miss_is_found():
    rng = np.random.default_rng(7)
    counts, fake = _clustered_null(rng, n_images=300)
    dense = counts.toarray()
    missed = np.flatnonzero(~fake)[:30]
    dense[missed] = 0
    dense[missed, 5] = 4  # thirty real images put all four activations in cell 5; no generated one does
    test = stats.cell_permutation_test([stats.sparse.csr_matrix(dense)], fake, permutations=999, seed=1)
    assert test.z[0][5] < -5 and test.p_family[0][5] <= 0.001
    assert int(np.argmin(test.p_family[0])) == 5


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
