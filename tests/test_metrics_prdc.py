"""Precision/recall/density/coverage: exact agreement with the prdc package, tiling, duplicates."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from genlens.errors import InputError, TooFewSamplesError
from genlens.metrics import PRDC, DuplicateSamplesWarning, prdc

prdc_peer = pytest.importorskip("prdc")


def _peer(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prdc_peer.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)


@pytest.mark.parametrize(("k", "block_size"), [(5, 2048), (5, 37), (3, 64), (1, 50)])
def test_matches_prdc_exactly(k: int, block_size: int, rng: np.random.Generator,
                              capsys: pytest.CaptureFixture[str]) -> None:
    real = rng.standard_normal((300, 16))
    # A fake set that is partly off the real manifold, so no score sits at 0 or 1.
    fake = np.concatenate([rng.standard_normal((150, 16)) * 0.8, rng.standard_normal((120, 16)) + 1.5])
    peer = _peer(real, fake, k)
    ours = prdc(real, fake, k=k, block_size=block_size)
    for name in ("precision", "recall", "density", "coverage"):
        assert abs(getattr(ours, name) - float(peer[name])) <= 1e-9, name
    assert 0.0 < ours.precision < 1.0 and 0.0 < ours.coverage < 1.0
    assert (ours.n_real, ours.n_fake, ours.k) == (300, 270, k)


def test_float32_input_and_result_dict(rng: np.random.Generator) -> None:
    real, fake = rng.standard_normal((60, 8)), rng.standard_normal((50, 8)) + 0.5
    ours = prdc(real.astype(np.float32), fake.astype(np.float32), k=4)
    peer = _peer(real.astype(np.float32).astype(np.float64), fake.astype(np.float32).astype(np.float64), 4)
    assert ours.to_dict()["density"] == pytest.approx(float(peer["density"]), abs=1e-9)
    with pytest.raises(TypeError, match="four numbers"):
        float(ours)


def test_identical_duplicates_follow_prdc_or_count_ties(rng: np.random.Generator) -> None:
    # prdc issue #7: with all points identical every radius is 0 and strict '<' finds nothing.
    same = np.ones((40, 4))
    with pytest.warns(DuplicateSamplesWarning, match="radius is 0"):
        strict = prdc(same, same, k=5)
    peer = _peer(same, same, 5)
    assert (strict.density, strict.coverage) == (float(peer["density"]), float(peer["coverage"])) == (0.0, 0.0)
    with pytest.warns(DuplicateSamplesWarning):
        ties = prdc(same, same, k=5, strict=False)
    assert (ties.precision, ties.recall, ties.coverage) == (1.0, 1.0, 1.0)


def test_a_dropped_mode_shows_in_recall_and_coverage_not_precision(rng: np.random.Generator) -> None:
    # Real data: two far-apart clusters. The generator samples only the first one, faithfully.
    centres = np.zeros((2, 10))
    centres[1, 0] = 20.0
    real = np.concatenate([rng.standard_normal((150, 10)) + centres[0], rng.standard_normal((150, 10)) + centres[1]])
    fake = rng.standard_normal((300, 10)) + centres[0]
    result = prdc(real, fake, k=5)
    assert result.precision > 0.9  # every fake looks real
    assert 0.4 < result.coverage <= 0.5 and 0.4 < result.recall <= 0.5  # half the real data is missed


def test_bad_input(rng: np.random.Generator) -> None:
    real = rng.standard_normal((10, 3))
    with pytest.raises(TooFewSamplesError, match="at least 6"):
        prdc(real, real[:5], k=5)
    with pytest.raises(InputError, match="dimension mismatch"):
        prdc(real, rng.standard_normal((10, 4)), k=2)
    with pytest.raises(InputError, match="k must be"):
        prdc(real, real, k=0)
    with pytest.raises(InputError, match="2-D"):
        prdc(real.reshape(10, 3, 1), real, k=2)
    assert isinstance(prdc(real, real, k=2), PRDC)
