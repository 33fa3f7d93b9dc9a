"""The event rule against a hand-written reference, planted jumps, and exact cluster shares."""

from __future__ import annotations

import numpy as np
import pytest

from genlens.track.events import EventRule, detect_events, worsening_scores
from genlens.views import StepEvidence


def _naive_scores(values, higher_is_better, se, min_history=4, threshold=10.0):
    """The documented rule written out step by step, independently of the vectorised code."""
    out = [float("nan")] * len(values)
    sign = -1.0 if higher_is_better else 1.0
    changes = [sign * (values[i] - values[i - 1]) for i in range(1, len(values))]
    start = 0  # changes before this one belong to an earlier regime (before the last event)
    for t in range(1, len(values)):
        history = changes[start : t - 1]
        k = len(history)
        if k < min_history or changes[t - 1] <= 0:
            continue
        center = float(np.median(history))
        mad = float(np.median([abs(h - center) for h in history]))
        measured = 2 * se[t - 1] ** 2  # under 'nothing changed', both values share the earlier step's noise
        noise = max(measured**0.5, 1.4826 * mad)
        out[t] = (changes[t - 1] - center) / noise
        if out[t] > threshold:
            start = t
    return out


@pytest.mark.parametrize("higher", [True, False])
def test_scores_match_the_rule_written_out(rng, higher):
    values = list(np.cumsum(rng.normal(0.1, 1.0, size=30)))
    values[20:] = [v + 20.0 * (-1 if higher else 1) for v in values[20:]]  # one break, then a new regime
    se = list(rng.uniform(0.1, 0.5, size=30))
    got, noise = worsening_scores(values, higher, se)
    np.testing.assert_allclose(got, _naive_scores(values, higher, se), rtol=1e-12, equal_nan=True)
    assert got[20] > 10 and np.isnan(noise[:5]).all() and np.isfinite(noise[5:21]).all()  # judged from the 5th step
    assert np.isnan(noise[21:25]).all()  # after the break, the new regime needs 4 changes of its own


def test_a_diverging_run_is_flagged_where_it_breaks_not_at_every_later_step():
    values = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 3.0, 6.0, 9.0, 12.0]  # FID falls, then blows up from step 7
    events = detect_events({"r": {"metrics/fid": list(enumerate(values))}}, EventRule())
    assert [e.step for e in events] == [7]


def test_a_few_quiet_changes_do_not_make_the_next_one_an_outlier_when_the_noise_is_measured():
    # four nearly equal changes give a MAD of almost zero: without measured noise, the fifth change
    # scores in the hundreds (the failure seen on another CPU); with each step's standard error it does not
    values = [0.50, 0.51, 0.52, 0.53, 0.5401, 0.51]
    without, _ = worsening_scores(values, True)
    with_se, noise = worsening_scores(values, True, [0.01] * 6)
    assert without[-1] > 100
    assert with_se[-1] < 10 and noise[-1] == pytest.approx(np.sqrt(2) * 0.01)


def test_an_improvement_is_never_scored_even_against_a_faster_usual_improvement():
    # FID falls 30 per step, then only 10: a slower improvement, not a worsening
    fid = [230.0, 200.0, 170.0, 140.0, 110.0, 100.0]
    scores, _ = worsening_scores(fid, False, [0.5] * 6)
    assert np.isnan(scores).all()
    assert detect_events({"r": {"metrics/fid": list(enumerate(fid))}}) == []


def test_a_planted_drop_is_flagged_at_its_step_and_nowhere_else(rng):
    # an improving, noisy CMS curve; the drop at step 12 is 10x the step-to-step noise
    values = 0.5 + 0.02 * np.arange(20) + rng.normal(0, 0.005, 20)
    values[12:] -= 0.1
    series = {"seed-0": {"regions/cms": list(zip(range(20), values))}}
    events = detect_events(series)
    assert [(e.run, e.step, e.metric) for e in events] == [("seed-0", 12, "regions/cms")]
    assert events[0].change < 0
    # the same jump *upwards* is an improvement, never an event
    up = {"seed-0": {"regions/cms": list(zip(range(20), 1.5 - values))}}
    assert detect_events(up) == []
    # for a lower-is-better metric, a rise is the worsening
    fid = {"r": {"metrics/fid": list(zip(range(20), 10 - 10 * values))}}
    assert [e.step for e in detect_events(fid)] == [12]


def test_a_steady_noisy_run_raises_no_event(rng):
    values = 0.9 + rng.normal(0, 0.01, 200)
    assert detect_events({"r": {"regions/cms": list(zip(range(200), values))}}) == []


def test_cluster_shares_split_the_fall_of_the_log_product_exactly():
    before = np.array([0.9, 0.8, 0.95, 0.7])
    after = np.array([0.9, 0.4, 0.93, 0.65])
    per_metric = {f"regions/cluster_{j:02d}": [(0, b), (1, a)] for j, (b, a) in enumerate(zip(before, after))}
    from genlens.regions.tracking import cluster_causes

    causes = cluster_causes(StepEvidence("r", 0, 1, per_metric, None, EventRule(max_causes=4, min_share=0.0)))
    assert [c["id"] for c in causes] == [1, 3, 2]  # cluster 0 did not change
    drops = np.log(before) - np.log(after)
    assert sum(c["change"] for c in causes) == pytest.approx(np.log(before.prod()) - np.log(after.prod()))
    assert causes[0]["share"] == pytest.approx(drops[1] / drops[drops > 0].sum())


def test_class_causes_follow_the_growth_of_the_area_gap():
    per_metric = {
        "semantics/area/sky": [(0, 0.30), (1, 0.31)],
        "semantics/area/tree": [(0, 0.10), (1, 0.00)],  # trees vanished
        "semantics/area/house": [(0, 0.20), (1, 0.20)],
    }
    real = {"sky": 0.3, "tree": 0.1, "house": 0.2}
    from genlens.semantics.tracking import class_causes

    causes = class_causes(real, StepEvidence("r", 0, 1, per_metric, None, EventRule()))
    assert causes[0]["kind"] == "class" and causes[0]["id"] == "tree"
    assert causes[0]["share"] == pytest.approx(0.1 / 0.11)


def test_a_highlighted_run_is_drawn_apart_from_the_band_of_the_others():
    from genlens.plotting import metric_panels

    steps = range(6)
    series = {f"seed-{i}": {"metrics/fid": [(s, 10.0 - s + 0.1 * i) for s in steps]} for i in range(3)}
    series["planted"] = {"metrics/fid": [(s, 10.0 - s + (50.0 if s >= 4 else 0.0)) for s in steps]}
    ax = metric_panels(series, ["metrics/fid"], highlight=("planted",)).axes[0]
    band_top = ax.collections[0].get_paths()[0].vertices[:, 1].max()
    assert band_top < 20  # the planted blow-up does not widen the seeds' band
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["planted"].get_ydata(), [v for _, v in series["planted"]["metrics/fid"]])
    mean = next(line for label, line in lines.items() if label != "planted")
    np.testing.assert_allclose(mean.get_ydata(), [10.1 - s for s in steps])


def test_kid_replicates_match_the_unbiased_mmd_of_each_resample_written_out(rng):
    import torch

    from genlens.metrics.kernels import PolynomialKernel
    from genlens.metrics.view import kid_replicates

    real, fake = rng.normal(size=(40, 6)), rng.normal(0.3, 1.0, size=(25, 6))
    resamples = rng.integers(0, 25, size=(3, 25))
    got = kid_replicates(real, fake, resamples)
    k = PolynomialKernel()
    x = torch.as_tensor(real)
    for value, rows in zip(got, resamples):
        y = torch.as_tensor(fake[rows])  # the resample as rows, duplicates included
        kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
        n, m = len(x), len(y)
        xx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
        yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))  # a draw is never paired with itself
        assert value == pytest.approx(float(xx + yy - 2 * kxy.mean()), rel=1e-10)


def test_the_cli_default_threshold_is_the_rules():
    from genlens.cli.track import DEFAULT_THRESHOLD

    assert DEFAULT_THRESHOLD == EventRule().threshold


def test_a_broken_step_is_judged_by_the_noise_before_it_not_by_its_own():
    # KID's bootstrap error grows with KID: the blown-up step's own error (30) would hide a jump of 90
    kid = [8.0, 8.5, 7.6, 7.9, 7.2, 97.0]
    se = [0.3, 0.3, 0.3, 0.3, 0.3, 30.0]
    scores, noise = worsening_scores(kid, False, se)
    assert scores[-1] > 10 * EventRule().threshold
    assert noise[-1] < 1.0
