"""Real experiments at quick size: the zoo DCGAN over epochs and seeds, and planted collapses.

These train (or load from the shared test cache) three tiny DCGANs and the quick world segmenter.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genlens.track import Tracker, TrackResult, track_report
from genlens.zoo import make_generator

pytestmark = pytest.mark.slow

REAL = "zoo:real?n=240&seed=5"
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def dcgan_tracker(tmp_path_factory):
    from genlens.zoo.models import dcgan

    folder = tmp_path_factory.mktemp("dcgan")
    tracker = Tracker(REAL, diagnostics=("metrics", "regions"), store=folder / "track.sqlite",
                      feature_options={"quick": True}, n_regions=240, clusters=4)
    for seed in SEEDS:
        run = dcgan(quick=True, seed=seed)
        noise = torch.randn(160, run.latent_dim, generator=torch.Generator().manual_seed(1))  # fixed for every epoch
        for epoch in range(run.epochs + 1):
            tracker.log(epoch, run.generator(epoch), noise=noise, run=f"seed-{seed}")
    return tracker, folder


def test_dcgan_series_are_finite_improve_and_the_product_tracks_the_image_cms(dcgan_tracker, tmp_path):
    tracker, _ = dcgan_tracker
    result = TrackResult.from_store(tracker.store)
    assert result.runs == [f"seed-{s}" for s in SEEDS]
    for run in result.runs:
        per = result.series[run]
        clusters = [m for m in per if m.startswith("regions/cluster_")]
        assert len(clusters) == 4
        for metric in ["regions/cms", "regions/cms_product", "metrics/fid", *clusters]:
            steps, values = zip(*per[metric])
            assert steps == tuple(range(len(steps))) and len(steps) >= 4
            assert np.isfinite(values).all(), (run, metric)
        cms = [v for _, v in per["regions/cms"]]
        assert cms[-1] > cms[0] + 0.1, (run, cms)  # training helps, by a wide margin over noise
        fid = [v for _, v in per["metrics/fid"]]
        assert fid[-1] < fid[0], (run, fid)
    corr = result.product_correlation()
    assert set(corr) == set(result.runs)
    assert min(corr.values()) >= 0.9, corr
    # the report draws image CMS vs product and each cluster's band over seeds
    track_report(tracker.store, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(doc["series"]) == set(result.runs)
    figures = {p.name for p in (tmp_path / "out" / "figures").iterdir()}
    assert {"track-regions-cms-vs-product.png", "track-regions-clusters.png"} <= figures


def test_a_generator_with_fixed_noise_is_sampled_in_eval_mode_and_restored(dcgan_tracker):
    from genlens.zoo.models import dcgan

    tracker, _ = dcgan_tracker
    gen = dcgan(quick=True, seed=0).generator(3).train()
    noise = torch.randn(64, gen.fc[0].in_features, generator=torch.Generator().manual_seed(2))
    a = tracker.log(3, gen, noise=noise, run="probe")
    assert gen.training  # the training loop's mode is left as it was
    b = tracker.log(3, gen, noise=noise, run="probe")
    assert a == b  # eval mode + fixed noise: the same step measured twice gives the same numbers
    assert tracker.store.steps("probe") == [3]


def _images(generator, step: int, n: int = 150) -> np.ndarray:
    return generator.sample(n, seed=100 + step).images


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """World samples for steps 0..9 (a converged generator: only sampling noise between steps);
    from step 7 on, one run collapses to 3 scenes and another collapses inside one image region."""
    folder = tmp_path_factory.mktemp("planted")
    tracker = Tracker(REAL, diagnostics=("metrics", "regions", "semantics"), store=folder / "track.sqlite",
                      feature_options={"quick": True}, segmenter="zoo-quick", n_regions=240, clusters=6)
    labels = tracker.reference.fitted["regions"].real.partition.labels
    # the region to collapse: the bounding box of one cluster, so the right cause is known in advance
    target = int(np.argmax(np.bincount(labels.ravel())))
    ys, xs = np.nonzero(labels == target)
    box = (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
    clean, collapse = make_generator("clean", seed=3), make_generator("collapse", n_modes=3, seed=3)
    for step in range(10):
        tracker.log(step, _images(collapse if step >= 7 else clean, step), run="collapse")
        images = _images(clean, step)
        if step >= 7:  # every image shows the same content inside the box: a regional mode collapse
            mask = labels == target
            images = np.where(mask[None, None], images[:1], images)
        tracker.log(step, images, run="regional")
    return tracker, target, box


def _scores(result, run):
    """Every judged (step, metric, score) of a run, flagged or not."""
    from genlens.track.events import worsening_scores
    from genlens.track.events import direction_of as higher_is_better
    from genlens.track.measure import se_metric

    out = []
    for metric, points in result.series[run].items():
        if higher_is_better(metric) is None:
            continue
        se = dict(result.series[run].get(se_metric(metric), []))
        steps = [s for s, _ in points]
        scores, _ = worsening_scores([v for _, v in points], higher_is_better(metric), [se.get(s) for s in steps])
        out += [(s, metric, float(x)) for s, x in zip(steps, scores) if np.isfinite(x)]
    return out


def test_a_planted_collapse_is_flagged_at_its_step_on_diversity_not_fidelity(planted):
    tracker, _, _ = planted
    result = TrackResult.from_store(tracker.store)
    events = [e for e in result.events if e.run == "collapse"]
    assert {e.step for e in events} == {7}, [(e.step, e.metric, e.score) for e in events]
    # the margins, in noise units: before step 7 only sampling noise moves the metrics, so no healthy
    # worsening comes near the threshold, and the collapse clears it several times over
    scores = _scores(result, "collapse")
    healthy = max(x for s, _, x in scores if s < 7)
    planted_best = max(x for s, _, x in scores if s == 7)
    assert healthy < result.rule.threshold / 2, healthy
    assert planted_best > 3 * result.rule.threshold, planted_best
    flagged = {e.metric for e in events}
    assert {"metrics/recall", "metrics/coverage", "regions/cms"} <= flagged
    assert "metrics/precision" not in flagged  # collapsed scenes are still realistic scenes
    live = [e for e in tracker.events(runs=["collapse"])]  # the same rule, asked from the training loop
    assert [(e.step, e.metric) for e in live] == [(e.step, e.metric) for e in events]


def test_a_regional_collapse_is_flagged_at_its_step_and_blames_its_cluster(planted):
    tracker, target, _ = planted
    result = TrackResult.from_store(tracker.store)
    events = [e for e in result.events if e.run == "regional" and e.metric in ("regions/cms", "regions/cms_product")]
    assert events and {e.step for e in events} == {7}, [(e.step, e.metric, e.score) for e in events]
    for e in events:
        top = next(c for c in e.causes if c["kind"] == "cluster")
        assert top["id"] == target and top["share"] > 0.5, e.causes


def test_results_json_lists_events_with_causes(planted, tmp_path):
    tracker, _, _ = planted
    track_report(tracker.store, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["events"], "the planted collapse must appear"
    for e in doc["events"]:
        assert set(e) >= {"run", "step", "metric", "change", "causes"}
        assert all({"kind", "id", "share"} <= set(c) for c in e["causes"])
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Flagged events" in html and "collapse" in html
    # a new process reuses the saved reference instead of rebuilding it
    again = Tracker(REAL, diagnostics=("metrics", "regions", "semantics"), store=tracker.store.path,
                    feature_options={"quick": True}, segmenter="zoo-quick", n_regions=240, clusters=6)
    assert again.reference.key == tracker.reference.key
    np.testing.assert_array_equal(again.reference.fitted["regions"].real.partition.labels, tracker.reference.fitted["regions"].real.partition.labels)
