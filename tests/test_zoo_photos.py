"""The real-photo world: deterministic crops with provenance, defects that change only what they claim."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from genlens.errors import ConfigError
from genlens.zoo import (
    PHOTO_GENERATOR_NAMES,
    PHOTO_NAMES,
    PHOTOGRAPHS,
    PhotoWorld,
    _photographs,
    make_photo_generator,
    open_zoo_spec,
    photo_source,
    real_source,
)
from genlens.zoo.photos import PHOTO_GENERATORS, PhotoSource

needs_photos = pytest.mark.skipif(importlib.util.find_spec("skimage") is None, reason="needs genlens[photos]")

#: One box off the default quadrant, so a test would notice a default silently used instead.
BOX = (8, 16, 24, 32)
REGION_DEFECTS = {
    "photo_blur_region": {"box": BOX},
    "photo_desaturate_region": {"box": BOX},
    "photo_jpeg_region": {"box": BOX},
}


def _outside(box: tuple[int, int, int, int], size: int = 32) -> np.ndarray:
    mask = np.ones((size, size), dtype=bool)
    mask[box[0]:box[2], box[1]:box[3]] = False
    return mask


@needs_photos
def test_crops_are_deterministic_and_prefix_stable() -> None:
    world = PhotoWorld(32)
    a, b = world.sample(40, seed=3), world.sample(80, seed=3)
    assert a.images.shape == (40, 3, 32, 32) and a.images.dtype == np.uint8
    np.testing.assert_array_equal(a.images, b.images[:40])
    np.testing.assert_array_equal(a.photo, b.photo[:40])
    np.testing.assert_array_equal(world.sample_at(np.array([5, 61]), seed=3).images, b.images[[5, 61]])
    np.testing.assert_array_equal(PhotoWorld(32).sample(40, seed=3).images, a.images)
    assert (world.sample(40, seed=4).images != a.images).any()


@needs_photos
def test_every_crop_records_its_photograph_and_window() -> None:
    crops = PhotoWorld(32).sample(600, seed=0)
    counts = np.bincount(crops.photo, minlength=len(PHOTO_NAMES))
    assert (counts > 600 / len(PHOTO_NAMES) * 0.6).all()  # every photograph, about uniformly
    assert crops.photo_names[0] == PHOTO_NAMES[crops.photo[0]]
    for i in range(0, 600, 37):  # the window, cut from the named photograph, resized, is the crop
        photo = _photographs.photo_array(crops.photo_names[i])
        y0, x0, y1, x1 = crops.window[i]
        assert 0 <= y0 < y1 <= photo.shape[0] and 0 <= x0 < x1 <= photo.shape[1] and y1 - y0 == x1 - x0
        assert 0.2 * min(photo.shape[:2]) - 1 <= y1 - y0 <= 0.45 * min(photo.shape[:2])
        again = Image.fromarray(photo[y0:y1, x0:x1]).resize((32, 32), Image.Resampling.BICUBIC)
        np.testing.assert_array_equal(np.asarray(again).transpose(2, 0, 1), crops.images[i])


@needs_photos
def test_sizes_scale_the_same_windows() -> None:
    small, large = PhotoWorld(32).sample(20, seed=1), PhotoWorld(64).sample(20, seed=1)
    assert large.images.shape == (20, 3, 64, 64)
    np.testing.assert_array_equal(small.window, large.window)
    with pytest.raises(ConfigError, match="size"):
        PhotoWorld(8)


@needs_photos
@pytest.mark.parametrize("name", list(REGION_DEFECTS))
def test_region_defects_change_only_their_box(name: str) -> None:
    gen = make_photo_generator(name, seed=5, **REGION_DEFECTS[name])
    assert gen.planted["box"] == list(BOX) and gen.planted["kind"] == name
    fake = gen.sample(60)
    clean = PhotoWorld(32).sample(60, seed=5)  # the clean crop of the same (seed, index)
    np.testing.assert_array_equal(gen.sample_undamaged(60).images, clean.images)
    np.testing.assert_array_equal(fake.photo, clean.photo)
    outside = _outside(BOX)
    np.testing.assert_array_equal(fake.images[:, :, outside], clean.images[:, :, outside])
    changed = np.abs(fake.images.astype(int) - clean.images.astype(int))[:, :, ~outside].mean(axis=(1, 2))
    assert np.median(changed) > 1.0, f"{name} barely changes its box: median {np.median(changed):.2f} levels"


@needs_photos
def test_region_defects_default_to_the_top_left_quadrant() -> None:
    for name in REGION_DEFECTS:
        assert make_photo_generator(name).planted["box"] == [0, 0, 16, 16]
        assert make_photo_generator(name, size=64).planted["box"] == [0, 0, 32, 32]


@needs_photos
def test_desaturation_greys_the_box() -> None:
    fake = make_photo_generator("photo_desaturate_region", box=BOX).sample(40).images.astype(int)
    inside = fake[:, :, BOX[0]:BOX[2], BOX[1]:BOX[3]]
    assert np.abs(inside[:, 0] - inside[:, 1]).max() <= 1 and np.abs(inside[:, 1] - inside[:, 2]).max() <= 1
    half = make_photo_generator("photo_desaturate_region", box=BOX, amount=0.5).sample(40).images.astype(int)
    assert np.abs(half[:, 0] - half[:, 2]).max() > 10  # half-way keeps some colour


@needs_photos
def test_jpeg_artefacts_sit_only_in_the_box_and_follow_the_quality() -> None:
    clean = PhotoWorld(32).sample(60, seed=1).images.astype(int)
    errors = {}
    for quality in (10, 90):
        fake = make_photo_generator("photo_jpeg_region", box=BOX, quality=quality).sample(60).images.astype(int)
        diff = np.abs(fake - clean)
        assert not diff[:, :, _outside(BOX)].any()
        errors[quality] = diff[:, :, BOX[0]:BOX[2], BOX[1]:BOX[3]].mean()
    assert errors[10] > 2 * errors[90] and errors[10] > 3.0


@needs_photos
def test_a_dropped_photograph_never_appears_and_other_crops_are_untouched() -> None:
    gen = make_photo_generator("photo_drop_source", name="coffee", seed=2)
    assert gen.planted == {"kind": "photo_drop_source", "photograph": "coffee"}
    fake, clean = gen.sample(600), PhotoWorld(32).sample(600, seed=2)
    assert "coffee" not in fake.photo_names and "coffee" in clean.photo_names
    kept = clean.photo != PHOTO_NAMES.index("coffee")
    np.testing.assert_array_equal(fake.images[kept], clean.images[kept])
    assert set(fake.photo_names) == set(PHOTO_NAMES) - {"coffee"}
    with pytest.raises(ConfigError, match="one of astronaut"):
        make_photo_generator("photo_drop_source", name="moon")
    with pytest.raises(ConfigError, match="one of astronaut"):
        make_photo_generator("photo_drop_source")


@needs_photos
def test_clean_is_another_draw_of_the_real_crops() -> None:
    gen = make_photo_generator("photo_clean", seed=7)
    np.testing.assert_array_equal(gen.sample(30).images, PhotoWorld(32).sample(30, seed=7).images)
    assert (make_photo_generator("photo_clean").sample(30).images != photo_source(30).read_all().numpy()).any()


@needs_photos
def test_photo_sources_name_no_networks() -> None:
    sources = [photo_source(20), make_photo_generator("photo_blur_region").as_source(20),
               open_zoo_spec("zoo:photos?n=20"), open_zoo_spec("zoo:photo_drop_source?name=rocket&n=20")]
    for src in sources:
        assert isinstance(src, PhotoSource) and src.defaults() == {}
    assert real_source(20).defaults()["features"] == "zoo-classifier"  # the world keeps its own


@needs_photos
def test_sources_read_the_crops_and_reopen_from_their_spec() -> None:
    src = open_zoo_spec("zoo:photos?n=600&size=32&seed=0")
    assert len(src) == 600 and src.image_size == (32, 32) and src.planted is None
    assert torch.equal(src.read(10, 20), torch.from_numpy(PhotoWorld(32).sample(20, seed=0).images[10:]))
    assert src.scenes(3, 5).photo_names == PhotoWorld(32).sample(5, seed=0).photo_names[3:]
    blur = open_zoo_spec("zoo:photo_blur_region?box=0,0,16,16&n=600")
    assert blur.planted == {"kind": "photo_blur_region", "box": [0, 0, 16, 16], "sigma": 1.5} and blur.seed == 1
    for s in (src, blur, open_zoo_spec("zoo:photo_jpeg_region?box=0,16,16,32&quality=20&n=50&seed=4")):
        again = open_zoo_spec(s.spec())
        assert again.fingerprint() == s.fingerprint() and again.describe()["planted"] == s.describe()["planted"]
    prints = {open_zoo_spec(v).fingerprint() for v in (
        "zoo:photos?n=50", "zoo:photos?n=50&seed=1", "zoo:photos?n=50&size=64", "zoo:photo_clean?n=50&seed=0",
        "zoo:photo_desaturate_region?n=50", "zoo:photo_desaturate_region?n=50&amount=0.5", "zoo:real?n=50")}
    assert len(prints) == 7


@needs_photos
@pytest.mark.parametrize("spec, message", [
    ("zoo:photos?box=0,0,16,16", "unknown option 'box'"),
    ("zoo:photo_jpeg_region?sigma=2", "unknown option 'sigma'"),
    ("zoo:photo_blur_region?quality=10", "unknown option 'quality'"),
    ("zoo:photo_drop_source?name=china", "one of astronaut"),
    ("zoo:photo_jpeg_region?quality=0", "quality must be an integer in"),
    ("zoo:photo_desaturate_region?amount=2", "amount must be a number in"),
    ("zoo:photo_blur_region?box=0,0,40,40", "box"),
    ("zoo:photo_noise?n=5", "valid names: real, .*photos, photo_clean"),
])
def test_specs_refuse_what_they_do_not_know(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_zoo_spec(spec)


@needs_photos
def test_generators_refuse_unknown_names_and_parameters() -> None:
    with pytest.raises(ConfigError, match="valid photo generators: photo_clean"):
        make_photo_generator("blur_region")
    with pytest.raises(ConfigError, match="accepts: box, sigma"):
        make_photo_generator("photo_blur_region", std=3)
    assert set(PHOTO_GENERATOR_NAMES) == {name for name, _ in PHOTO_GENERATORS}


@needs_photos
def test_demo_generators_build_at_32_px_with_boxes_on_the_jpeg_grid() -> None:
    for name, params in PHOTO_GENERATORS:
        gen = make_photo_generator(name, size=32, **params)
        box = gen.planted.get("box")
        if box is not None:
            assert all(v % 8 == 0 for v in box)
        assert gen.sample(4).images.shape == (4, 3, 32, 32)


@needs_photos
def test_generators_are_callable_on_latents() -> None:
    gen = make_photo_generator("photo_jpeg_region")
    z = torch.randn(6, gen.latent_dim, generator=torch.Generator().manual_seed(0))
    images = gen(z)
    assert images.shape == (6, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(gen(z[2:4]), images[2:4])


@needs_photos
def test_only_public_domain_or_cc0_photographs_as_scikit_image_documents_them() -> None:
    import skimage.data

    for photo in PHOTOGRAPHS:
        doc = " ".join(getattr(skimage.data, photo.name).__doc__.split())
        assert "public domain" in doc.lower() or "CC0" in doc, photo.name
        assert photo.licence.startswith(("public domain", "CC0"))


def test_missing_scikit_image_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _photographs.load_photographs.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage", None)  # find_spec then reports it as not installed
    try:
        with pytest.raises(ConfigError, match=r"pip install 'genlens\[photos\]'"):
            photo_source(10)
        with pytest.raises(ConfigError, match=r"pip install 'genlens\[photos\]'"):
            open_zoo_spec("zoo:photo_blur_region?n=10")
    finally:
        _photographs.load_photographs.cache_clear()
