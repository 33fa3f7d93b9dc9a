"""bootstrap_ci: interval width against the analytic standard error, determinism, bias, errors."""

from __future__ import annotations

import numpy as np
import pytest

from genlens.errors import ConfigError
from genlens.metrics import bootstrap_ci, frechet_distance, inception_score, prdc


def _mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[:, 0].mean() - b[:, 0].mean())


def test_interval_matches_the_analytic_standard_error() -> None:
    gen = np.random.default_rng(11)
    a, b = gen.standard_normal((400, 2)), 2.0 * gen.standard_normal((300, 2)) + 0.5
    se = np.sqrt(a[:, 0].var(ddof=1) / 400 + b[:, 0].var(ddof=1) / 300)
    ci = bootstrap_ci(_mean_difference, a, b, n_boot=600, seed=1)
    assert ci.estimate == pytest.approx(_mean_difference(a, b))
    assert ci.low < ci.estimate < ci.high
    assert ci.std == pytest.approx(se, rel=0.15)
    assert (ci.high - ci.low) / (2 * 1.959964 * se) == pytest.approx(1.0, abs=0.2)
    assert abs(ci.bias) < 0.2 * se  # an unbiased statistic has no bootstrap shift


def test_seeded_and_basic_reflects_percentile(rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((50, 3)), rng.standard_normal((40, 3)) + 0.2
    first = bootstrap_ci(_mean_difference, a, b, n_boot=50, seed=3)
    assert first == bootstrap_ci(_mean_difference, a, b, n_boot=50, seed=3)
    assert first != bootstrap_ci(_mean_difference, a, b, n_boot=50, seed=4)
    basic = bootstrap_ci(_mean_difference, a, b, n_boot=50, seed=3, method="basic")
    assert basic.low == pytest.approx(2 * first.estimate - first.high)
    assert basic.high == pytest.approx(2 * first.estimate - first.low)


def test_fid_bias_is_reported(rng: np.random.Generator) -> None:
    # FID on a resample (fewer distinct rows) is biased upwards: the bootstrap sees it.
    a, b = rng.standard_normal((60, 20)), rng.standard_normal((60, 20)) + 0.1
    ci = bootstrap_ci(frechet_distance, a, b, n_boot=40, seed=0)
    assert ci.bias > 0 and ci.low > ci.estimate
    basic = bootstrap_ci(frechet_distance, a, b, n_boot=40, seed=0, method="basic")
    assert basic.low < ci.estimate


def test_single_set_metric(rng: np.random.Generator) -> None:
    logits = rng.standard_normal((200, 10)) * 2
    ci = bootstrap_ci(lambda z: inception_score(z, splits=2), logits, n_boot=30)
    assert ci.low <= ci.high and ci.to_dict()["n_boot"] == 30


def test_bad_arguments(rng: np.random.Generator) -> None:
    a = rng.standard_normal((20, 2))
    with pytest.raises(ConfigError, match="wrap it"):
        bootstrap_ci(lambda x, y: prdc(x, y, k=2), a, a, n_boot=5)
    with pytest.raises(ConfigError, match="level"):
        bootstrap_ci(_mean_difference, a, a, level=95)
    with pytest.raises(ConfigError, match="method"):
        bootstrap_ci(_mean_difference, a, a, method="bca")
