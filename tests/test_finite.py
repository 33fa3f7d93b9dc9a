"""all_finite: one sum proves finiteness; a non-finite sum falls back to the exact check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens._finite import all_finite


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_one_bad_value_anywhere_is_found(as_tensor, bad):
    values = np.random.default_rng(0).normal(size=(50, 7, 3))
    assert all_finite(torch.from_numpy(values) if as_tensor else values)
    for index in [(0, 0, 0), (49, 6, 2), (17, 3, 1)]:
        broken = values.copy()
        broken[index] = bad
        assert not all_finite(torch.from_numpy(broken) if as_tensor else broken)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_huge_finite_values_whose_sum_overflows_are_still_finite(as_tensor):
    values = np.full(8, np.finfo(np.float32).max, dtype=np.float32)
    with np.errstate(over="ignore"):
        assert not np.isfinite(values.sum())  # the fast path alone would call these non-finite
    assert all_finite(torch.from_numpy(values) if as_tensor else values)


def test_integers_and_empty_arrays_are_finite():
    assert all_finite(np.arange(5)) and all_finite(torch.arange(5))
    assert all_finite(np.zeros((0, 3))) and all_finite(torch.zeros(0, 3))
