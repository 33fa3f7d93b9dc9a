"""Kernel-metric bootstrap replicates from weighted kernel sums equal the metrics recomputed on each resample."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
import torch

from genlens import metrics as m
from genlens.features.space import FeatureSet
from genlens.metrics import resampled_kernels
from genlens.metrics.bootstrap import bootstrap_counts, resamples
from genlens.metrics.reference import MetricsReference
from genlens.metrics.resampled_kernels import resampled_products


@pytest.fixture
def sets():
    rng = np.random.default_rng(3)
    return rng.normal(size=(70, 6)), rng.normal(size=(55, 6)) * 1.3 + 0.2


def test_counts_are_the_resamples_bootstrap_ci_draws(sets):
    real, fake = sets
    counts_x, counts_y = bootstrap_counts([70, 55], 6, seed=9)
    for r, (ix, iy) in enumerate(resamples([70, 55], 6, seed=9)):
        np.testing.assert_array_equal(counts_x[r], np.bincount(ix, minlength=70))
        np.testing.assert_array_equal(counts_y[r], np.bincount(iy, minlength=55))
    seen = []
    m.bootstrap_ci(lambda a, b: seen.append((a[:, 0], b[:, 0])) or 0.0, real, fake, n_boot=6, seed=9)
    for r, (a0, b0) in enumerate(seen[1:]):  # after the estimate: the rows it resampled, as counts
        np.testing.assert_array_equal(counts_x[r], [np.sum(a0 == v) for v in real[:, 0]])
        np.testing.assert_array_equal(counts_y[r], [np.sum(b0 == v) for v in fake[:, 0]])


@pytest.mark.parametrize("tile_bytes", [2**28, 8 * 55 * 7])  # one tile, and tiles of 7 rows
def test_replicates_equal_the_metrics_on_the_resampled_rows(sets, monkeypatch, tile_bytes):
    monkeypatch.setattr(resampled_kernels, "TILE_BYTES", tile_bytes)
    real, fake = sets
    rbf, poly = m.RBFKernel(gamma=0.1), m.PolynomialKernel()
    x, y = torch.from_numpy(real), torch.from_numpy(fake)
    counts_x, counts_y = bootstrap_counts([70, 55], 5, seed=1)
    with_rbf = resampled_products(rbf, x, y, counts_x, counts_y)
    with_poly = resampled_products(poly, x, y, counts_x, counts_y)
    for r, (ix, iy) in enumerate(resamples([70, 55], 5, seed=1)):
        a, b = real[ix], fake[iy]  # duplicated rows are distinct positions, as in bootstrap_ci
        assert with_rbf.mmd2()[r] == pytest.approx(m.mmd(a, b, kernel=rbf).value, rel=1e-10, abs=1e-14)
        assert with_rbf.cms()[r] == pytest.approx(m.cms(a, b, kernel=rbf).value, rel=1e-12)
        assert with_poly.mmd2()[r] == pytest.approx(m.mmd(a, b, kernel=poly).value, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("dtype, rel", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_mmd_and_cms_intervals_equal_bootstrap_ci_on_the_same_resamples(sets, dtype, rel):
    """float64 features: equal to rounding; float32 features (kernel in float32, as KID's): to 1e-4."""
    real, fake = (a.astype(dtype) + 1000.0 for a in sets)  # an offset that centring must absorb
    ref = MetricsReference(FeatureSet(real), metrics=["mmd", "cms"], n_boot=15, seed=4)
    result = ref.compare(FeatureSet(fake), floor=False)
    z = NormalDist().inv_cdf(0.975)
    for name, fn in (("mmd", m.mmd), ("cms", m.cms)):
        direct = m.bootstrap_ci(lambda a, b, _f=fn: _f(a, b, kernel=ref.rbf_kernel).value, real, fake,
                                n_boot=15, seed=4)
        lo, hi = result.estimate(name).ci
        assert (hi - lo) / 2 == pytest.approx(z * direct.std, rel=rel)
        assert (hi + lo) / 2 == pytest.approx(direct.estimate, rel=1e-9)


def test_kid_interval_adds_the_subsets_spread_to_the_resampling_spread():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(1500, 4)), rng.normal(size=(1500, 4)) + 0.1
    ref = MetricsReference(FeatureSet(real), metrics=["kid"], n_boot=20, seed=2)
    kid = ref.compare(FeatureSet(fake), floor=False).estimate("kid")
    counts_x, counts_y = bootstrap_counts([1500, 1500], 20, seed=2)
    full = resampled_products(m.PolynomialKernel(), torch.from_numpy(real), torch.from_numpy(fake), counts_x,
                              counts_y).mmd2().std(ddof=1)
    se = (kid.ci[1] - kid.ci[0]) / (2 * NormalDist().inv_cdf(0.975))
    assert kid.details["subsets"] == 100 and kid.details["subset_size"] == 1000
    assert se == pytest.approx(np.hypot(full, kid.details["std"] / 10.0), rel=1e-9)
    assert se > full  # subsets of 1000 from 1500 add noise of their own


@pytest.mark.parametrize("strict", [True, False])
def test_prdc_replicates_equal_prdc_on_the_resampled_rows(strict, monkeypatch):
    from genlens.metrics import resampled_neighbourhoods
    from genlens.metrics.resampled_neighbourhoods import resampled_prdc

    monkeypatch.setattr(resampled_neighbourhoods, "CELLS", 3 * 16 * 16)  # 3 replicates at a time
    rng = np.random.default_rng(5)
    real = rng.normal(size=(40, 3)).astype(np.float32)
    fake = (rng.normal(size=(33, 3)) * 1.2 + 0.3).astype(np.float32)
    real[5] = real[6] = real[7]  # exact duplicates: zero radii and ties on the strict/non-strict edge
    fake[2] = real[9]  # a fake at distance 0 from a real point
    counts_x, counts_y = bootstrap_counts([40, 33], 12, seed=2)
    got = resampled_prdc(real, fake, counts_x, counts_y, k=3, strict=strict, block_size=16, device="cpu")
    for r, (ix, iy) in enumerate(resamples([40, 33], 12, seed=2)):
        with warnings_ignored():  # resamples duplicate rows
            want = m.prdc(real[ix], fake[iy], k=3, strict=strict, device="cpu")
        for name in ("precision", "recall", "density", "coverage"):
            assert getattr(got, name)[r] == pytest.approx(getattr(want, name), abs=1e-12), (r, name)


def test_prdc_radii_fall_back_to_whole_rows_when_the_list_is_short(monkeypatch):
    """With 1-row neighbour lists nearly every radius is measured against all rows: same answer."""
    from genlens.metrics import resampled_neighbourhoods
    from genlens.metrics.resampled_neighbourhoods import resampled_prdc

    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(30, 4)), rng.normal(size=(25, 4))
    counts_x, counts_y = bootstrap_counts([30, 25], 4, seed=0)
    full = resampled_prdc(real, fake, counts_x, counts_y, k=4, device="cpu")
    monkeypatch.setattr(resampled_neighbourhoods, "EXTRA_LISTED", -3)
    short = resampled_prdc(real, fake, counts_x, counts_y, k=4, device="cpu")
    for name in ("precision", "recall", "density", "coverage"):
        np.testing.assert_array_equal(getattr(short, name), getattr(full, name))


def warnings_ignored():
    import contextlib
    import warnings

    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    return stack
