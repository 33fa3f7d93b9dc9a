"""Inception Score: torch-fidelity agreement and the two closed-form extremes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens.errors import InputError, TooFewSamplesError
from genlens.metrics import inception_score


@pytest.mark.parametrize("splits", [10, 3])
@pytest.mark.parametrize("shuffle_seed", [2020, None])
def test_matches_torch_fidelity(splits: int, shuffle_seed: int | None, rng: np.random.Generator) -> None:
    metric_isc = pytest.importorskip("torch_fidelity.metric_isc")
    logits = (rng.standard_normal((1003, 50)) * 3.0).astype(np.float32)  # N not divisible by splits
    peer = metric_isc.isc_features_to_metric(
        torch.from_numpy(logits), splits=splits, shuffle=shuffle_seed is not None, rng_seed=shuffle_seed or 0)
    ours = inception_score(logits, splits=splits, shuffle_seed=shuffle_seed)
    assert abs(ours.mean - peer["inception_score_mean"]) <= 1e-6 * ours.mean
    assert abs(ours.std - peer["inception_score_std"]) <= 1e-6 * ours.std


def test_closed_form_extremes() -> None:
    classes = 8
    # Confident and balanced: every sample one class, every class equally often -> IS = #classes.
    confident = np.full((80, classes), -1e3)
    confident[np.arange(80), np.arange(80) % classes] = 0.0
    result = inception_score(confident, splits=2, shuffle_seed=None)
    assert result.mean == pytest.approx(classes, rel=1e-9)
    assert result.std == pytest.approx(0.0, abs=1e-9)
    # Uninformative: every prediction uniform -> IS = 1.
    assert inception_score(np.zeros((40, classes)), splits=4).mean == pytest.approx(1.0, abs=1e-12)
    # Collapsed onto one class with total confidence: p(y|x) = p(y) -> IS = 1, and no NaN from log 0.
    collapsed = np.full((30, classes), -1e4)
    collapsed[:, 3] = 0.0
    assert inception_score(collapsed, splits=3).mean == pytest.approx(1.0, abs=1e-12)


def test_bad_input() -> None:
    with pytest.raises(TooFewSamplesError, match="at least 10"):
        inception_score(np.zeros((9, 5)), splits=10)
    with pytest.raises(InputError, match="at least 2 classes"):
        inception_score(np.zeros((20, 1)), splits=2)
    with pytest.raises(InputError, match="NaN or Inf"):
        inception_score(np.full((20, 3), np.inf), splits=2)
    with pytest.raises(InputError, match="splits"):
        inception_score(np.zeros((20, 3)), splits=0)
