"""Cluster-wise CMS against independent implementations, its CIs and floors, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from genlens.errors import ConfigError, InputError, TooFewSamplesError
from genlens.metrics import cms as reference_cms
from genlens.metrics.kernels import RBFKernel
from genlens.regions.analysis import analyze_regions
from genlens.regions.cms import CmsPlan, cluster_cms
from genlens.regions.partition import PixelPartition

H, W = 4, 6
LABELS = np.repeat(np.array([[0, 0, 1, 1, 2, 2]]), H, axis=0)


def _data(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    x = np.tanh(rng.normal(size=(n, 1, 1, 3)) + 0.5 * rng.normal(size=(n, H, W, 3)))
    x[:, :, 4:] += shift
    return x


def _gamma(x: np.ndarray) -> float:
    return 1.0 / np.median([np.sum((a - b) ** 2) for i, a in enumerate(x) for b in x[i + 1:]])


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_pooled_cms_matches_the_metrics_module(rng, estimator) -> None:
    x, y = _data(rng, 60), _data(rng, 50, shift=0.3)
    gamma = _gamma(x)
    est = cluster_cms(x, y, LABELS, gamma, CmsPlan(estimator=estimator, n_boot=0, floor_splits=0))
    kernel = RBFKernel(gamma)
    ref_image = reference_cms(x.reshape(60, -1), y.reshape(50, -1), kernel, estimator=estimator).value
    assert est.image == pytest.approx(ref_image, abs=1e-12)
    for j in range(3):
        cols = LABELS == j
        ref = reference_cms(x[:, cols].reshape(60, -1), y[:, cols].reshape(50, -1), kernel, estimator=estimator).value
        assert est.clusters[j] == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_minibatch_cms_is_the_mean_over_batch_pairs(rng, estimator) -> None:
    x, y = _data(rng, 45), _data(rng, 30, shift=0.2)
    gamma = _gamma(x)
    plan = CmsPlan(estimator=estimator, mode="minibatch", real_batch=15, fake_batch=10, n_boot=0, floor_splits=0)
    est = cluster_cms(x, y, LABELS, gamma, plan)
    kernel = RBFKernel(gamma)
    pairs = [
        reference_cms(xb.reshape(len(xb), -1), yb.reshape(len(yb), -1), kernel, estimator=estimator).value
        for xb in np.split(x, 3)
        for yb in np.split(y, 3)
    ]
    assert est.image == pytest.approx(np.mean(pairs), abs=1e-12)


def test_bootstrap_intervals_and_floor(rng) -> None:
    x = _data(rng, 200)
    same, shifted = _data(rng, 200), _data(rng, 200, shift=0.4)
    part = PixelPartition(labels=LABELS, max_cross_cka=0.0, block_cka=np.eye(3), median_sq_dist=1.0 / _gamma(x))
    plan = CmsPlan(n_boot=200, floor_splits=5, seed=3)
    good = analyze_regions(x, same, partition=part, plan=plan)
    bad = analyze_regions(x, shifted, partition=part, plan=plan)
    for c in good.clusters + bad.clusters:
        assert c.ci[0] <= c.cms <= c.ci[1]
    assert not any(c.significant for c in good.clusters)
    assert [c.significant for c in bad.clusters] == [False, False, True]
    assert bad.worst.id == 2
    assert sum(c.share for c in bad.clusters) == pytest.approx(1.0)
    assert bad.clusters[2].share > 0.5
    # seeded: the same call gives the same intervals
    again = analyze_regions(x, shifted, partition=part, plan=plan)
    assert [c.ci for c in again.clusters] == [c.ci for c in bad.clusters]
    text = json.dumps(bad.to_dict())
    assert "NaN" not in text and "Infinity" not in text


def test_biased_floor_matches_a_perfect_generator_on_average() -> None:
    """The floor is evaluated at the real/fake sizes: over many draws of a perfect generator, the
    mean CMS equals the mean floor (at half size without that correction it would sit lower)."""
    gen = np.random.default_rng(7)
    diffs, half_size_gap = [], []
    labels = np.zeros((H, W), dtype=int)
    for _ in range(12):
        x, y = _data(gen, 80), _data(gen, 80)
        gamma = _gamma(x) * 4.0
        est = cluster_cms(x, y, labels, gamma, CmsPlan(n_boot=0, floor_splits=4, seed=int(gen.integers(1000))))
        diffs.append(est.image - est.floor_image)
        half = cluster_cms(x[:40], x[40:], labels, gamma, CmsPlan(n_boot=0, floor_splits=0))
        half_size_gap.append(est.image - half.image)
    se = np.std(diffs) / math.sqrt(len(diffs))
    assert abs(np.mean(diffs)) < 3 * se + 1e-4
    assert np.mean(half_size_gap) > abs(np.mean(diffs))


def test_bad_inputs(rng) -> None:
    x = _data(rng, 20)
    with pytest.raises(InputError, match="differ"):
        cluster_cms(x, _data(rng, 20)[:, :, :5], LABELS, 1.0)
    with pytest.raises(InputError, match="partition"):
        cluster_cms(x, x, np.zeros((2, 2), dtype=int), 1.0)
    bad = x.copy()
    bad[3, 0, 0, 0] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        cluster_cms(x, bad, LABELS, 1.0)
    with pytest.raises(TooFewSamplesError):
        cluster_cms(x[:3], x, LABELS, 1.0)
    with pytest.raises(ConfigError):
        cluster_cms(x, x, LABELS, float("nan"))
    with pytest.raises(ConfigError):
        cluster_cms(x, x, LABELS, 1.0, CmsPlan(mode="average"))
    with pytest.raises(TooFewSamplesError, match="bandwidth"):
        analyze_regions(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(10, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(InputError, match="channels-last"):
        analyze_regions(torch.zeros(10, 8, 8, 3, dtype=torch.uint8), torch.zeros(10, 8, 8, 3, dtype=torch.uint8))
    with pytest.raises(InputError, match="resize"):
        analyze_regions(torch.zeros(10, 3, 8, 8, dtype=torch.uint8), torch.zeros(10, 3, 6, 6, dtype=torch.uint8))


def test_constant_pixels_are_handled_without_nan(rng) -> None:
    """A border that is constant in the real data (e.g. black padding) gets CKA 0, still clusters,
    and a generator that puts noise there is caught in the cluster that holds it."""
    imgs = (rng.integers(0, 256, size=(120, 3, 1, 1)) * np.ones((1, 1, 8, 8))).astype(np.uint8)
    imgs = np.clip(imgs + rng.integers(-20, 21, size=imgs.shape), 0, 255).astype(np.uint8)
    imgs[:, :, :, :2] = 0
    fake = imgs[::-1].copy()
    fake[:, :, :, :2] = rng.integers(0, 60, size=(120, 3, 8, 2))
    res = analyze_regions(imgs, fake, clusters=2, plan=CmsPlan(n_boot=50), batch_size=40)
    assert res.partition.meta["n_constant_pixels"] == 16
    assert np.isfinite([c.cms for c in res.clusters]).all()
    border = np.bincount(res.partition.labels[:, :2].ravel()).argmax()
    assert res.worst.id == border
    for c in res.to_dict()["cms"]["clusters"]:
        assert all(c[key] is not None for key in ("cms", "floor", "share", "deficit")) and None not in c["ci"]


def test_feature_maps_work_like_pixels(rng) -> None:
    """Any (n, H, W, C) representation: a 16-channel map with independent left and right halves,
    whose right half is shifted in the fake."""

    def feature_map(n: int, shift: float) -> np.ndarray:
        x = np.empty((n, 4, 4, 16))
        x[:, :, :2] = np.tanh(rng.normal(size=(n, 1, 1, 16)) + 0.5 * rng.normal(size=(n, 4, 2, 16)))
        x[:, :, 2:] = np.tanh(rng.normal(size=(n, 1, 1, 16)) + 0.5 * rng.normal(size=(n, 4, 2, 16))) + shift
        return x

    res = analyze_regions(feature_map(120, 0.0).astype(np.float32), torch.from_numpy(feature_map(120, 0.3)),
                          clusters=None, plan=CmsPlan(n_boot=50), batch_size=40)
    assert res.mean_real is None and res.inputs["real"]["kind"] == "spatial array"
    truth = np.repeat(np.array([[0, 0, 1, 1]]), 4, axis=0)
    assert res.partition.k == 2 and (res.partition.labels == truth).all()
    assert res.worst.id == 1 and res.worst.significant and not res.clusters[0].significant
    assert len(res.to_section().figures) == 4


def test_replicate_chunking_does_not_change_results(rng, monkeypatch) -> None:
    import genlens.regions.cms as cms_module

    x, y = _data(rng, 60), _data(rng, 40, shift=0.2)
    plan = CmsPlan(mode="minibatch", real_batch=15, fake_batch=10, n_boot=30, floor_splits=3, seed=1)
    whole = cluster_cms(x, y, LABELS, _gamma(x), plan)
    monkeypatch.setattr(cms_module, "_COUNT_CHUNK_BYTES", 1)  # one replicate at a time
    chunked = cluster_cms(x, y, LABELS, _gamma(x), plan)
    np.testing.assert_allclose(chunked.boot_clusters, whole.boot_clusters, rtol=1e-13)
    np.testing.assert_allclose(chunked.floor_clusters, whole.floor_clusters, rtol=1e-13)
    assert chunked.image == whole.image


def test_a_feature_map_representation_finds_a_blur_pixels_barely_see_and_boxes_it_in_input_pixels():
    """Regions on relu2_2 of a random VGG-16 (16x16 sites for 32-px images): the blurred box is found
    and boxed in input pixels; the image CMS factorises into the cluster CMS at the default bandwidth."""
    from genlens.views import RunContext, get_view
    from genlens.zoo import make_generator, real_source

    real = real_source(240, seed=0)
    fake = make_generator("blur_region", box=(20, 2, 30, 14), seed=3).as_source(240, seed=3)
    view, ctx = get_view("regions"), RunContext()
    options = view.options(representation="random-vgg16:features.8", clusters=8, n_boot=40)
    result = view.compare(view.fit(real, options, ctx), fake, ctx)
    assert result.partition.image_size == (16, 16) and result.site == (2, 2)
    found = [f for f in result.findings() if f.significant]
    assert found
    best = max(found, key=lambda f: f.score)
    top, left, bottom, right = best.where
    assert top < 30 and bottom > 20 and left < 14 and right > 2  # overlaps the planted box, in input pixels
    assert result.factorises()
    assert result.to_dict()["representation"] == "random-vgg16:features.8"
