"""The report's one false-alarm budget: Holm's adjustment against a brute-force closed form and its
family-wise rate under the null, and the split of alpha over views and families."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from genlens.budget import check_alpha, family_level, holm, view_shares
from genlens.errors import ConfigError


def _holm_by_definition(p: np.ndarray) -> np.ndarray:
    """Closed testing with Bonferroni local tests: the adjusted p of H_i is the largest, over every
    intersection containing i, of |S| * min(p_S)."""
    m, out = len(p), np.zeros(len(p))
    for i in range(m):
        worst = 0.0
        for size in range(1, m + 1):
            for subset in itertools.combinations(range(m), size):
                if i in subset:
                    worst = max(worst, size * p[list(subset)].min())
        out[i] = min(worst, 1.0)
    return out


def test_holm_equals_closed_testing_with_bonferroni():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 7))
        np.testing.assert_allclose(holm(p), _holm_by_definition(p), rtol=1e-12)


def test_holm_keeps_nan_out_of_the_count():
    adjusted = holm([0.01, np.nan, 0.02])
    assert np.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.02])
    assert np.isnan(holm([np.nan])).all() and holm([]).size == 0


def test_holm_controls_the_familywise_rate_under_the_null():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=(4000, 10))
    rate = np.mean([(holm(row) <= 0.05).any() for row in p])
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 4000)


def test_shares_split_alpha_equally_and_sum_to_it():
    shares = view_shares(0.01, ["metrics", "critic", "atlas", "critic"])
    assert list(shares) == ["metrics", "critic", "atlas"]
    assert sum(shares.values()) == pytest.approx(0.01)
    assert family_level(shares["critic"], 3) == pytest.approx(0.01 / 9)
    assert view_shares(0.01, []) == {}


@pytest.mark.parametrize("bad", [0, -0.1, 0.6, float("nan"), "x"])
def test_alpha_out_of_range_is_a_clear_error(bad):
    with pytest.raises((ConfigError, ValueError)):
        check_alpha(bad)
