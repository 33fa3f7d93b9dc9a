"""Every metric rejects bad feature arrays with a clear genlens error, never a NaN result."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from genlens.errors import InputError
from genlens.metrics import cms, frechet_distance, inception_score, kid, mmd, prdc

METRICS: dict[str, Callable[[object, object], object]] = {
    "fid": frechet_distance,
    "kid": lambda a, b: kid(a, b, subsets=2, subset_size=10),
    "mmd": mmd,
    "cms": cms,
    "prdc": lambda a, b: prdc(a, b, k=3),
    "is": lambda a, b: inception_score(a, splits=2),
}


@pytest.fixture
def good(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((20, 4))


@pytest.mark.parametrize("name", list(METRICS))
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(name: str, bad_value: float, good: np.ndarray) -> None:
    bad = good.copy()
    bad[5, 2] = bad_value
    with pytest.raises(InputError, match="1 of 20 rows contain NaN or Inf"):
        METRICS[name](bad, good)
    with pytest.raises(InputError, match="NaN or Inf"):
        METRICS[name](torch.from_numpy(bad).float(), good)


@pytest.mark.parametrize("name", [n for n in METRICS if n != "is"])
def test_dimension_mismatch_is_refused(name: str, good: np.ndarray) -> None:
    with pytest.raises(InputError, match="d=4 but .* has d=5"):
        METRICS[name](good, np.ones((20, 5)))


@pytest.mark.parametrize("name", list(METRICS))
@pytest.mark.parametrize("shape", [(20,), (20, 2, 2), (20, 0)])
def test_wrong_shapes_are_refused(name: str, shape: tuple[int, ...], good: np.ndarray) -> None:
    with pytest.raises(InputError):
        METRICS[name](np.ones(shape), good)


def test_non_numeric_arrays_are_refused(good: np.ndarray) -> None:
    with pytest.raises(InputError, match="numeric"):
        mmd(np.array([["a", "b"], ["c", "d"]]), good[:, :2])
    with pytest.raises(InputError, match="complex"):
        mmd(torch.ones(5, 2, dtype=torch.complex64), good[:5, :2])
