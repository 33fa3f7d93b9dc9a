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


def _brute_force(real: np.ndarray, fake: np.ndarray, k: int, strict: bool) -> tuple[float, float, float, float]:
    """PRDC from full float64 distance matrices built from coordinate differences: the reference."""
    def d2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return ((a[:, None, :].astype(np.float64) - b[None, :, :].astype(np.float64)) ** 2).sum(-1)

    rr, ff, rf = d2(real, real), d2(fake, fake), d2(real, fake)
    np.fill_diagonal(rr, np.inf)
    np.fill_diagonal(ff, np.inf)
    real_r2, fake_r2 = np.sort(rr, axis=1)[:, k - 1], np.sort(ff, axis=1)[:, k - 1]
    inside = np.less if strict else np.less_equal
    in_real = inside(rf, real_r2[:, None])
    in_fake = inside(rf, fake_r2[None, :])
    return in_real.any(0).mean(), in_fake.any(1).mean(), in_real.sum(0).mean() / k, in_real.any(1).mean()


@pytest.mark.parametrize("strict", [True, False])
def test_float32_screen_defers_every_close_call(strict: bool, rng: np.random.Generator) -> None:
    """Integer features tie everywhere: many distances equal a radius exactly and many rows have several
    k-th neighbours. The float32 screen must hand each such call to the exact float64 check (and the
    rows whose k-th neighbour is unclear to a full exact row), giving the brute-force answer."""
    real = rng.integers(0, 3, (260, 6)).astype(np.float32) * 1000.0 + 5000.0  # far from 0: large norms
    fake = rng.integers(0, 3, (240, 6)).astype(np.float32) * 1000.0 + 5000.0
    fake[:40] += 500.0  # a shifted part, so no score is trivially 0 or 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateSamplesWarning)
        ours = prdc(real, fake, k=3, strict=strict, block_size=64)
    expected = _brute_force(real, fake, 3, strict)
    assert (ours.precision, ours.recall, ours.density, ours.coverage) == pytest.approx(expected, abs=1e-12)


def test_float32_screen_survives_catastrophic_rounding(rng: np.random.Generator) -> None:
    """Two tight clusters far apart: float32 squared distances within a cluster are mostly rounding
    error (norms ~1e3, distances ~1), so the screen is unsure of nearly every pair and row, and the
    float64 referee must decide them all."""
    def sample(n: int, shift: float) -> np.ndarray:
        side = np.where(rng.random(n) < 0.5, 1000.0, -1000.0)[:, None]
        return (side + rng.standard_normal((n, 32)) * 0.2 + shift).astype(np.float32)

    real, fake = sample(200, 0.0), sample(180, 0.05)
    ours = prdc(real, fake, k=4, block_size=64)
    assert (ours.precision, ours.recall, ours.density, ours.coverage) == pytest.approx(
        _brute_force(real, fake, 4, True), abs=1e-12)


def test_float32_screen_gives_the_float64_answer(rng: np.random.Generator) -> None:
    """Continuous float32 features: screening in float32 changes nothing against float64 throughout."""
    mix = rng.standard_normal((64, 64)) / 8.0
    real = np.maximum(rng.standard_normal((500, 64)) @ mix + 0.3, 0.0).astype(np.float32)
    fake = np.maximum(rng.standard_normal((450, 64)) @ mix + 0.35, 0.0).astype(np.float32)
    single = prdc(real, fake, k=5, block_size=128)
    double = prdc(real.astype(np.float64), fake.astype(np.float64), k=5, block_size=128)
    assert single == double
    assert (single.precision, single.recall, single.density, single.coverage) == pytest.approx(
        _brute_force(real, fake, 5, True), abs=1e-12)


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
