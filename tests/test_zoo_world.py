"""The world's scenes: shapes, ground truth, determinism, layout, and size consistency."""

from __future__ import annotations

import time

import numpy as np
import pytest

from genlens.errors import ConfigError
from genlens.zoo import BACKGROUND_CLASSES, CLASSES, OBJECT_CLASSES, Scenes, World

SKY, GROUND = CLASSES.index("sky"), CLASSES.index("ground")


@pytest.fixture(scope="module")
def scenes32() -> Scenes:
    return World(32).sample(1500, seed=0)


def _counts(labels: np.ndarray) -> np.ndarray:
    """Naive per-class pixel counts, independent of the world's own bincount."""
    return np.stack([(labels == c).sum(axis=(1, 2)) for c in range(len(CLASSES))], axis=1)


def test_classes_cover_background_and_five_objects() -> None:
    assert CLASSES == BACKGROUND_CLASSES + OBJECT_CLASSES
    assert len(OBJECT_CLASSES) >= 5 and len(set(CLASSES)) == len(CLASSES)


@pytest.mark.parametrize("size", [32, 64])
def test_arrays_have_the_documented_shapes_and_types(size: int) -> None:
    s = World(size).sample(20, seed=3)
    assert s.images.shape == (20, 3, size, size) and s.images.dtype == np.uint8
    assert s.labels.shape == (20, size, size) and s.labels.dtype == np.int64
    assert s.main_class.shape == (20,) and s.main_class.dtype == np.int64
    assert s.present.shape == (20, len(CLASSES)) and s.present.dtype == bool
    assert s.labels.min() >= 0 and s.labels.max() < len(CLASSES)
    assert len(s) == 20
    with pytest.raises(AttributeError):
        s.images = s.images  # type: ignore[misc]  # frozen


def test_present_and_main_class_agree_with_the_labels(scenes32: Scenes) -> None:
    counts = _counts(scenes32.labels)
    np.testing.assert_array_equal(scenes32.present, counts > 0)
    object_ids = [CLASSES.index(c) for c in OBJECT_CLASSES]
    expected = np.asarray(object_ids)[np.argmax(counts[:, object_ids], axis=1)]
    np.testing.assert_array_equal(scenes32.main_class, expected)
    assert scenes32.present[:, [SKY, GROUND]].all()


def test_every_object_class_is_common_and_dominant_classes_are_balanced(scenes32: Scenes) -> None:
    n = len(scenes32)
    main_counts = np.bincount(scenes32.main_class, minlength=len(CLASSES))
    assert main_counts[[SKY, GROUND]].sum() == 0
    expected = n / len(OBJECT_CLASSES)
    # uniform dominant class: each count within 5 binomial standard deviations of n/5
    sd = np.sqrt(n * 0.2 * 0.8)
    for c in OBJECT_CLASSES:
        assert abs(main_counts[CLASSES.index(c)] - expected) < 5 * sd, c
    # extras make every class appear beyond its dominant share
    for c in OBJECT_CLASSES:
        assert scenes32.present[:, CLASSES.index(c)].mean() > 0.3, c


@pytest.mark.parametrize("size", [32, 64])
def test_dominant_object_is_clearly_the_largest(size: int) -> None:
    """A classifier trained on main_class needs an unambiguous target: the winner leads by >= 1.5x."""
    s = World(size).sample(1500, seed=11)
    counts = _counts(s.labels)[:, [CLASSES.index(c) for c in OBJECT_CLASSES]]
    top2 = np.sort(counts, axis=1)[:, -2:]
    assert (top2[:, 1] >= 1.5 * top2[:, 0]).all()
    assert (top2[:, 1] >= 0.04 * size * size).all()  # and it is not a speck


def test_same_seed_same_arrays_other_seed_other_arrays() -> None:
    w = World(32)
    a, b, c = w.sample(50, seed=5), w.sample(50, seed=5), w.sample(50, seed=6)
    for field in ("images", "labels", "main_class", "present"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert (a.images != c.images).any(axis=(1, 2, 3)).all()  # every image differs


def test_image_i_does_not_depend_on_n() -> None:
    w = World(32)
    small, large = w.sample(10, seed=2), w.sample(100, seed=2)
    np.testing.assert_array_equal(small.images, large.images[:10])
    np.testing.assert_array_equal(small.labels, large.labels[:10])
    picked = w.sample_at(np.array([97, 3, 50]), seed=2)
    np.testing.assert_array_equal(picked.images, large.images[[97, 3, 50]])


def test_no_two_images_are_identical(scenes32: Scenes) -> None:
    flat = scenes32.images.reshape(len(scenes32), -1)
    assert len(np.unique(flat, axis=0)) == len(scenes32)


def test_sky_lies_above_ground_in_every_column(scenes32: Scenes) -> None:
    labels = scenes32.labels
    rows = np.arange(labels.shape[1])[None, :, None]
    lowest_sky = np.where(labels == SKY, rows, -1).max(axis=1)
    highest_ground = np.where(labels == GROUND, rows, labels.shape[1]).min(axis=1)
    assert (lowest_sky < highest_ground).all()


def _horizon_rows(labels: np.ndarray) -> np.ndarray:
    """Per image, the median over columns of the first ground row (columns with visible ground)."""
    rows = np.arange(labels.shape[1])[None, :, None]
    first_ground = np.where(labels == GROUND, rows, np.inf).min(axis=1)
    first_ground[~np.isfinite(first_ground)] = np.nan
    return np.nanmedian(first_ground, axis=1)


def test_objects_keep_their_typical_places(scenes32: Scenes) -> None:
    labels = scenes32.labels
    horizon = _horizon_rows(labels)
    rows = np.arange(labels.shape[1])[None, :, None].astype(float)

    def extent(cls: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mask = labels == CLASSES.index(cls)
        has = mask.any(axis=(1, 2))
        top = np.where(mask, rows, np.inf).min(axis=(1, 2))
        bottom = np.where(mask, rows, -np.inf).max(axis=(1, 2))
        return has, top, bottom

    for sky_object in ("sun", "cloud"):
        has, _, bottom = extent(sky_object)
        assert (bottom[has] < horizon[has]).all(), sky_object  # wholly in the sky
    for standing in ("tree", "house"):
        main = scenes32.main_class == CLASSES.index(standing)
        _, top, bottom = extent(standing)
        # the dominant one rises above the horizon and its base touches it
        assert (top[main] < horizon[main] - 3).all(), standing
        assert (np.abs(bottom[main] - horizon[main]) <= 3).all(), standing
    main = scenes32.main_class == CLASSES.index("car")
    _, top, bottom = extent("car")
    assert (bottom[main] > horizon[main] + 4).all()  # stands on the ground, in front


def test_the_same_seed_draws_the_same_scene_at_32_and_64_px() -> None:
    small, large = World(32).sample(100, seed=4), World(64).sample(100, seed=4)
    np.testing.assert_array_equal(small.main_class, large.main_class)
    # every 2x2 block of the 64-px labels holds the 32-px label of its centre-ish pixel almost always
    agree = (large.labels[:, ::2, ::2] == small.labels) | (large.labels[:, 1::2, 1::2] == small.labels)
    assert agree.mean() > 0.97


def test_ground_has_fine_texture_and_sky_a_vertical_gradient(scenes32: Scenes) -> None:
    img = scenes32.images.astype(np.float64).mean(axis=1)  # luminance-ish (n, H, W)
    labels = scenes32.labels
    # horizontal neighbour differences inside the ground are large (texture), inside the sky small
    both_ground = (labels[:, :, 1:] == GROUND) & (labels[:, :, :-1] == GROUND)
    both_sky = (labels[:, :, 1:] == SKY) & (labels[:, :, :-1] == SKY)
    diff = np.abs(np.diff(img, axis=2))
    assert diff[both_ground].mean() > 8.0
    assert diff[both_sky].mean() < 4.0
    # the sky brightens towards the horizon
    blue = scenes32.images[:, 2].astype(np.float64)
    top_rows = np.where(labels[:, :3] == SKY, blue[:, :3], np.nan)
    assert np.nanmean(top_rows) < np.nanmean(np.where(labels[:, 12:16] == SKY, blue[:, 12:16], np.nan))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"size": 8}, "size"),
        ({"size": 32.5}, "size"),
        ({"extra_rate": 1.5}, "extra_rate"),
        ({"texture": -1.0}, "texture"),
    ],
)
def test_bad_world_parameters_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        World(**kwargs)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ConfigError, match="non-negative"):
        World().sample(-1)
    assert len(World().sample(0)) == 0


def test_to_dict_names_everything_that_shapes_the_images() -> None:
    d = World(64, extra_rate=0.1, texture=0.5).to_dict()
    assert d["size"] == 64 and d["extra_rate"] == 0.1 and d["texture"] == 0.5 and "world_version" in d
    # and those parameters really change the images
    base = World(64).sample(8, 0).images
    assert (World(64, texture=0.5).sample(8, 0).images != base).any()


def test_rendering_speed_smoke() -> None:
    """Thousands of images at once; the rate is printed (run with -s), never asserted."""
    start = time.perf_counter()
    scenes = World(32).sample(2000, seed=1)
    elapsed = time.perf_counter() - start
    assert len(scenes) == 2000
    print(f"world: {2000 / elapsed:.0f} images/s at 32 px")
