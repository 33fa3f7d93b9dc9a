"""The standard-metrics section: floor and matched values at equal size, intervals from one set of
bootstrap replicates, a fixed RBF kernel, and the section it renders."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from genlens import metrics as m
from genlens.errors import ConfigError, InputError
from genlens.metrics.reference import MetricsReference
from genlens.features.space import FeatureSet


def _fs(x: np.ndarray, logits: np.ndarray | None = None) -> FeatureSet:
    return FeatureSet(x, logits, {"n": len(x)}, {"name": "test", "feature_space": "test"})


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 8))
    same = rng.normal(size=(300, 8))  # same distribution, other draw
    shifted = rng.normal(size=(300, 8)) * 1.5 + 0.5
    return real, same, shifted


def test_floor_separates_a_defect_from_noise(sets):
    real, same, shifted = sets
    ref = MetricsReference(_fs(real), metrics=["fid", "kid", "prdc"], n_boot=0)
    clean = ref.compare(_fs(same))
    bad = ref.compare(_fs(shifted))
    assert ref.floor() is ref.floor()  # computed once
    for name in ("fid", "kid"):
        floor = clean.estimate(name).floor
        assert bad.estimate(name).floor == floor  # same reference, same floor
        # matched (generated vs the second real half, same size) is comparable with the floor
        assert abs(clean.estimate(name).matched - floor) < 0.25 * (bad.estimate(name).matched - floor)
    assert bad.estimate("fid").matched > 5 * bad.estimate("fid").floor
    # the floor is the metric between the two real halves, recomputed independently here
    a, b = real[ref.half_a], real[ref.half_b]
    assert set(ref.half_a).isdisjoint(ref.half_b) and len(ref.half_a) == len(ref.half_b) == 150
    assert clean.estimate("fid").floor == pytest.approx(m.frechet_distance(a, b).value, rel=1e-12)
    assert clean.estimate("coverage").floor == pytest.approx(m.prdc(a, b).coverage, abs=1e-12)
    # the headline values are the plain metric on all samples
    assert bad.value("fid") == pytest.approx(m.frechet_distance(real, shifted).value, rel=1e-10)
    assert bad.value("recall") == pytest.approx(m.prdc(real, shifted).recall, abs=1e-12)


@pytest.mark.filterwarnings("ignore::genlens.metrics.DuplicateSamplesWarning")
def test_replayed_bootstrap_equals_one_bootstrap_per_scalar(sets):
    real, _, shifted = sets
    ref = MetricsReference(_fs(real[:120]), metrics=["prdc"], n_boot=12, seed=4)
    values = ref._scalars("prdc", real[:120], shifted[:100], None, details=True)
    cis, notes = ref._cis("prdc", real[:120], shifted[:100], values)
    assert notes == []
    z = NormalDist().inv_cdf(0.975)
    for name in ("precision", "recall", "density", "coverage"):
        direct = m.bootstrap_ci(lambda a, b, _n=name: getattr(m.prdc(a, b), _n), real[:120], shifted[:100], n_boot=12, seed=4)
        lo, hi = cis[name]
        assert lo == pytest.approx(max(direct.estimate - z * direct.std, 0.0), abs=1e-12)
        upper = 1.0 if name != "density" else np.inf
        assert hi == pytest.approx(min(direct.estimate + z * direct.std, upper), abs=1e-12)


def test_intervals_contain_the_estimate_and_respect_ranges(sets):
    real, _, shifted = sets
    ref = MetricsReference(_fs(real), metrics=["fid", "prdc", "mmd", "cms"], n_boot=10)
    result = ref.compare(_fs(shifted), floor=False)
    for est in result.estimates:
        lo, hi = est.ci
        assert lo <= est.value <= hi, est.name
        assert est.floor is None and est.matched is None
        if est.name in ("precision", "recall", "coverage"):
            assert 0.0 <= lo and hi <= 1.0


def test_rbf_kernel_is_fixed_by_the_real_set(sets):
    import torch

    real, _, shifted = sets
    ref = MetricsReference(_fs(real), metrics=["mmd", "cms"], n_boot=0)
    kernel = m.RBFKernel.median_heuristic(torch.as_tensor(real), seed=0)
    result = ref.compare(_fs(shifted), floor=False)
    assert result.value("mmd") == pytest.approx(m.mmd(real, shifted, kernel=kernel).value, rel=1e-12)
    assert result.value("cms") == pytest.approx(m.cms(real, shifted, kernel=kernel).value, rel=1e-12)
    assert result.estimate("mmd").details["kernel"]["gamma"] == pytest.approx(kernel.gamma)


def test_inception_score_needs_logits(sets):
    real, same, _ = sets
    rng = np.random.default_rng(1)
    real_logits, fake_logits = rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) * 4
    ref = MetricsReference(_fs(real, real_logits), metrics=["is", "fid"], n_boot=0)
    with_logits = ref.compare(_fs(same, fake_logits))
    assert with_logits.value("is") == pytest.approx(m.inception_score(fake_logits, splits=10).mean, rel=1e-12)
    assert with_logits.estimate("is").floor == pytest.approx(m.inception_score(real_logits, splits=10).mean, rel=1e-12)
    without = ref.compare(_fs(same))
    assert [e.name for e in without.estimates] == ["fid"]
    assert any("IS skipped" in note for note in without.notes)


def test_bad_requests_are_clear_errors(sets):
    real, _, _ = sets
    with pytest.raises(ConfigError, match="unknown metric"):
        MetricsReference(_fs(real), metrics=["fid", "psnr"])
    ref = MetricsReference(_fs(real), metrics=["fid"], n_boot=0)
    with pytest.raises(InputError, match="dimension mismatch"):
        ref.compare(_fs(np.zeros((10, 3))))


def test_section_has_summary_table_and_figure(sets):
    real, _, shifted = sets
    section = MetricsReference(_fs(real), metrics=["fid", "prdc"], n_boot=5).compare(_fs(shifted)).to_section()
    assert section.key == "metrics" and section.status == "ok"
    assert "floor" in section.summary and "FD" in section.summary
    assert [row[0] for row in section.table.rows] == ["fid", "precision", "recall", "density", "coverage"]
    assert len(section.figures) == 1 and section.figures[0].png.startswith(b"\x89PNG")
    assert section.data["metrics"]["fid"]["floor"] is not None


def test_the_summary_says_which_is_missing_the_floor_or_the_intervals(sets):
    real, _, shifted = sets
    no_floor = MetricsReference(_fs(real), metrics=["mmd"], n_boot=5).compare(_fs(shifted), floor=False)
    assert "pass --floor" in no_floor.summary()
    no_boot = MetricsReference(_fs(real), metrics=["mmd"], n_boot=0).compare(_fs(shifted), floor=True)
    assert "--n-boot > 0" in no_boot.summary()
