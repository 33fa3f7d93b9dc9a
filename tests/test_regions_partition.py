"""Partition: planted independent pixel blocks are recovered; the CMS product identity holds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from genlens.errors import ConfigError, InputError
from genlens.regions.bandwidth import gamma_from_median, median_sq_distance
from genlens.regions.cka import pixel_cka
from genlens.regions.cms import CmsPlan, cluster_cms
from genlens.regions.partition import PixelPartition, choose_k, partition_pixels

H = W = 8


def _truth() -> np.ndarray:
    """Five blocks of unequal size and shape on an 8x8 grid."""
    t = np.zeros((H, W), dtype=int)
    t[:3, :5] = 0
    t[:3, 5:] = 1
    t[3:, :2] = 2
    t[3:6, 2:] = 3
    t[6:, 2:] = 4
    return t


def planted_blocks(n: int, seed: int, shift_block: int | None = None, shift: float = 0.0) -> np.ndarray:
    """Each block's pixels share one latent vector, independently of every other block."""
    rng = np.random.default_rng(seed)
    truth = _truth()
    x = np.empty((n, H, W, 3))
    for b in range(truth.max() + 1):
        mask = truth == b
        z = rng.normal(size=(n, 1, 3)) + (shift if b == shift_block else 0.0)
        x[:, mask, :] = np.tanh(z + 0.3 * rng.normal(size=(n, int(mask.sum()), 3)))
    return x


@pytest.fixture(scope="module")
def planted() -> dict:
    x = planted_blocks(400, seed=0)
    median = median_sq_distance(x)
    return {"x": x, "median": median, "gamma": gamma_from_median(median)}


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
@pytest.mark.parametrize("distance", ["profile", "one_minus_cka"])
def test_planted_blocks_are_recovered_with_automatic_k(planted, estimator, distance) -> None:
    cka = pixel_cka(planted["x"], gamma=planted["gamma"], estimator=estimator, batch_size=100)
    part = partition_pixels(cka, (H, W), k=None, distance=distance)
    assert part.k == 5
    assert adjusted_rand_score(_truth().ravel(), part.labels.ravel()) >= 0.95
    assert part.max_cross_cka < 0.2  # the theorem's condition, approximately (finite-sample CKA > 0)
    assert np.all(np.diag(part.block_cka) > 5 * part.block_cka[~np.eye(5, dtype=bool)].max())


@pytest.mark.parametrize(
    ("estimator", "mode"), [("biased", "pooled"), ("unbiased", "pooled"), ("unbiased", "minibatch")]
)
def test_product_of_cluster_cms_matches_image_cms(planted, estimator, mode) -> None:
    cka = pixel_cka(planted["x"], gamma=planted["gamma"], batch_size=100)
    part = partition_pixels(cka, (H, W), k=None)
    fake = planted_blocks(400, seed=1, shift_block=3, shift=0.5)
    plan = CmsPlan(estimator=estimator, mode=mode, n_boot=0, floor_splits=0)
    est = cluster_cms(planted["x"], fake, part.labels, planted["gamma"], plan)
    assert abs(est.product / est.image - 1.0) < 0.01
    assert est.image < 0.99  # a real defect, so the 1% is not trivially met at CMS ~ 1
    worst = int(np.argmin(est.clusters))
    assert np.bincount(part.labels[_truth() == 3]).argmax() == worst


def test_biased_minibatch_product_drifts_from_image_cms(planted) -> None:
    """Documented: with 20-image fake batches the V-statistic's diagonal weighs 5%, and the product of
    per-cluster averages no longer equals the average image CMS (the unbiased form does not drift)."""
    cka = pixel_cka(planted["x"], gamma=planted["gamma"], batch_size=100)
    part = partition_pixels(cka, (H, W), k=5)
    fake = planted_blocks(400, seed=1)
    est = cluster_cms(planted["x"], fake, part.labels, planted["gamma"],
                      CmsPlan(mode="minibatch", n_boot=0, floor_splits=0))
    assert est.product / est.image - 1.0 > 0.005


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
@pytest.mark.parametrize("mode", ["pooled", "minibatch"])
def test_single_cluster_product_equals_image_exactly(planted, estimator, mode) -> None:
    labels = np.zeros((H, W), dtype=int)
    fake = planted_blocks(200, seed=2, shift_block=0, shift=0.3)
    est = cluster_cms(planted["x"][:200], fake, labels, planted["gamma"],
                      CmsPlan(estimator=estimator, mode=mode, n_boot=20, floor_splits=2))
    assert est.product == est.image
    np.testing.assert_array_equal(est.boot_product, est.boot_image)
    assert est.floor_clusters[0] == est.floor_image


def test_choose_k_picks_the_largest_gap() -> None:
    # 10 points: merges at small heights within 3 groups, then two big merges
    heights = np.array([0.1, 0.1, 0.12, 0.1, 0.11, 0.1, 0.13, 2.0, 2.1])
    assert choose_k(heights, k_max=8) == 3
    assert choose_k(heights, k_max=2) == 2


def test_k_larger_than_pixels_and_bad_matrices_are_rejected(planted) -> None:
    cka = np.eye(H * W)
    with pytest.raises(ConfigError, match="impossible"):
        partition_pixels(cka, (H, W), k=H * W + 1)
    with pytest.raises(ConfigError):
        partition_pixels(cka, (H, W), k=0)
    with pytest.raises(InputError):
        partition_pixels(np.eye(10), (H, W))
    nan = np.eye(H * W)
    nan[0, 1] = np.nan
    with pytest.raises(InputError):
        partition_pixels(nan, (H, W))
    assert partition_pixels(cka, (H, W), k=H * W).k == H * W  # k = d is allowed: one pixel per cluster


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_partition_round_trip(planted, tmp_path, suffix) -> None:
    cka = pixel_cka(planted["x"][:100], gamma=planted["gamma"], batch_size=None)
    part = partition_pixels(cka, (H, W), k=4, median_sq_dist=planted["median"], bandwidth_scale=0.5,
                            meta={"note": "<b>x</b>"})
    path = part.save(tmp_path / f"part{suffix}")
    back = PixelPartition.load(path)
    np.testing.assert_array_equal(back.labels, part.labels)
    np.testing.assert_array_equal(back.sizes, part.sizes)
    np.testing.assert_allclose(back.block_cka, part.block_cka)
    assert back.max_cross_cka == part.max_cross_cka
    assert back.median_sq_dist == part.median_sq_dist and back.bandwidth_scale == 0.5
    assert back.meta["note"] == "<b>x</b>"
    if suffix == ".npz":
        np.testing.assert_allclose(back.cka, cka, atol=1e-6)  # stored as float32
        assert back.ordered_cka().shape == cka.shape
    else:
        assert back.cka is None and back.ordered_cka() is None
        assert json.loads(path.read_text())["format"] == "genlens.pixel_partition"


def test_bad_partition_files(tmp_path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        PixelPartition.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InputError):
        PixelPartition.load(bad)
    holes = tmp_path / "holes.json"
    holes.write_text(json.dumps({"format": "genlens.pixel_partition", "labels": [[0, 2], [2, 0]],
                                 "block_cka": [[1.0]], "max_cross_cka": 0.0}))
    with pytest.raises(InputError, match="every id"):
        PixelPartition.load(holes)
    with pytest.raises(ConfigError):
        partition_pixels(np.eye(4), (2, 2), k=2).save(tmp_path / "part.pkl")
