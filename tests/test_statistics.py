"""The shared statistics of every view, against closed forms and the draws they stand for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens import statistics as st

Z95 = 1.959963984540054  # the 97.5% standard-normal quantile


def test_generator_seeds_numpy_and_passes_generators_through() -> None:
    assert st.generator(3).integers(0, 100, 5).tolist() == np.random.default_rng(3).integers(0, 100, 5).tolist()
    g, t = np.random.default_rng(0), torch.Generator().manual_seed(0)
    assert st.generator(g) is g and st.generator(t) is t


def test_resample_indices_match_the_generator_they_draw_from() -> None:
    np.testing.assert_array_equal(st.resample_indices(7, 4, 5), np.random.default_rng(5).integers(0, 7, size=(4, 7)))
    drawn = st.resample_indices(7, 4, torch.Generator().manual_seed(5))
    assert isinstance(drawn, torch.Tensor)
    assert torch.equal(drawn, torch.randint(7, (4, 7), generator=torch.Generator().manual_seed(5)))


def test_counts_sum_to_n_and_count_the_index_draws() -> None:
    idx, counts = st.resample_indices(9, 6, 2), st.resample_counts(9, 6, 2)
    assert counts.shape == (6, 9) and counts.dtype == np.int64
    np.testing.assert_array_equal(counts.sum(1), np.full(6, 9))
    for row, c in zip(idx, counts):
        np.testing.assert_array_equal(c, np.bincount(row, minlength=9))


def test_grouped_multiplicities_count_each_batch_separately() -> None:
    idx = np.array([[0, 0, 2, 1, 1], [3, 3, 3, 0, 2]])
    groups = np.array([0, 0, 0, 1, 1])
    got = st.multiplicities(torch.as_tensor(idx), 4, groups=groups, n_groups=2)
    expected = np.array([[[2, 0, 1, 0], [0, 2, 0, 0]], [[0, 0, 0, 3], [1, 0, 1, 0]]])
    np.testing.assert_array_equal(got, expected)


def test_multinomial_and_stratified_counts_keep_totals() -> None:
    counts = st.multinomial_counts(11, 5, 1)
    np.testing.assert_array_equal(counts, np.random.default_rng(1).multinomial(11, np.full(11, 1 / 11), size=5))
    labels = np.array([1, 0, 1, 2, 0, 1])
    strat = st.stratified_counts(labels, 8, 0)
    for label in (0, 1, 2):
        np.testing.assert_array_equal(strat[:, labels == label].sum(1), np.full(8, (labels == label).sum()))
    np.testing.assert_allclose(st.bootstrap_weights(6, 8, 0, labels=labels).sum(1), 1.0)
    np.testing.assert_array_equal(st.bootstrap_weights(11, 5, 1), counts / 11)


def test_percentile_interval_of_a_known_array() -> None:
    reps = np.arange(101.0)
    np.testing.assert_allclose(st.percentile_interval(reps, 0.9), [5.0, 95.0])
    two_columns = np.stack([reps, 2 * reps], axis=1)
    np.testing.assert_allclose(st.percentile_interval(two_columns, 0.9), [[5.0, 95.0], [10.0, 190.0]])


def test_basic_interval_reflects_the_percentile_ends_about_the_estimate() -> None:
    reps = np.arange(101.0)
    np.testing.assert_allclose(st.basic_interval(60.0, reps, 0.9), [2 * 60 - 95, 2 * 60 - 5])


def test_normal_interval_of_a_known_standard_error_and_its_clipping() -> None:
    assert st.normal_interval(1.0, 0.5, 0.95) == pytest.approx((1 - Z95 * 0.5, 1 + Z95 * 0.5))
    assert st.normal_interval(0.1, 0.2, 0.95, bounds=(0.0, 1.0)) == (0.0, pytest.approx(0.1 + Z95 * 0.2))
    assert st.normal_interval(0.9, 0.2, 0.95, bounds=(0.0, 1.0)) == (pytest.approx(0.9 - Z95 * 0.2), 1.0)


def test_recentred_interval_keeps_the_spread_and_moves_the_median_to_the_point() -> None:
    reps = np.arange(101.0)  # median 50, 90% ends 5 and 95
    assert st.recentred_interval(10.0, reps, 0.9) == pytest.approx((-35.0, 55.0))
    lo, hi = st.recentred_interval(1.0, np.empty(0))
    assert np.isnan(lo) and np.isnan(hi)


@pytest.mark.parametrize("rng", [np.random.default_rng(4), torch.Generator().manual_seed(4)])
def test_half_splits_are_disjoint_equal_halves_of_one_permutation(rng: object) -> None:
    first, second = st.half_splits(11, 3, rng)
    first, second = np.asarray(first), np.asarray(second)
    assert first.shape == second.shape == (3, 5)
    for a, b in zip(first, second):
        assert len(set(a) | set(b)) == 10 and not set(a) & set(b)
    again = np.random.default_rng(4) if isinstance(rng, np.random.Generator) else torch.Generator().manual_seed(4)
    perm = np.asarray(st.permutation(11, again))
    np.testing.assert_array_equal(first[0], perm[:5])
    np.testing.assert_array_equal(second[0], perm[5:10])


def test_half_split_of_a_given_size_and_no_splits() -> None:
    a, b = st.half_split(10, 0, size=3)
    assert len(a) == len(b) == 3 and not set(a) & set(b)
    first, second = st.half_splits(10, 0, 0)
    assert first.shape == second.shape == (0, 5)


def test_random_subset_is_distinct_and_floor_averages_the_splits() -> None:
    pick = st.random_subset(10, 4, 0)
    assert len(set(pick.tolist())) == 4 and pick.max() < 10
    splits = zip(*st.half_splits(8, 4, 1))
    assert st.floor_over_splits(lambda a, b: float(a.sum() - b.sum()), [(np.array([3]), np.array([1]))] * 2) == 2.0
    values = [float(np.sum(a) + np.sum(b)) for a, b in splits]
    assert values == [28.0] * 4  # each split covers all of 0..7 once


def test_standard_error_is_the_sample_standard_deviation() -> None:
    assert st.standard_error(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert np.isnan(st.standard_error(np.array([1.0])))
