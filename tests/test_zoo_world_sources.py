"""The world and its generators as ImageSources, and the ``zoo:`` spec strings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genlens.errors import ConfigError, InputError
from genlens.io.base import ImageSource
from genlens.zoo import World, ZooSource, make_generator, open_zoo_spec, real_source


def test_real_source_reads_exactly_the_world_images() -> None:
    src = real_source(50, seed=3)
    assert isinstance(src, ImageSource) and len(src) == 50 and src.image_size == (32, 32)
    scenes = World(32).sample(50, seed=3)
    assert torch.equal(src.read_all(), torch.from_numpy(scenes.images))
    assert torch.equal(src.read(17, 23), torch.from_numpy(scenes.images[17:23]))
    assert torch.equal(torch.cat(list(src.batches(16))), src.read_all())
    np.testing.assert_array_equal(src.scenes(5, 9).labels, scenes.labels[5:9])
    assert src.read(48, 60).shape[0] == 2  # clamped at the end, like other sources


def test_generator_source_reads_the_generator_images() -> None:
    gen = make_generator("noise_region", size=64, seed=5, box=(0, 0, 10, 10))
    src = gen.as_source(30)
    assert src.image_size == (64, 64)
    assert torch.equal(src.read(3, 9), torch.from_numpy(gen.sample(9).images[3:9]))
    assert torch.equal(gen.as_source(30, seed=8).read_all(), torch.from_numpy(gen.sample(30, seed=8).images))


def test_fingerprint_is_stable_and_tracks_every_recipe_ingredient() -> None:
    base = open_zoo_spec("zoo:blur_region?box=8,8,20,20&n=100&seed=1")
    assert base.fingerprint() == open_zoo_spec("zoo:blur_region?n=100&box=8,8,20,20&seed=1").fingerprint()
    variants = [
        "zoo:blur_region?box=8,8,20,21&n=100&seed=1",
        "zoo:blur_region?box=8,8,20,20&n=101&seed=1",
        "zoo:blur_region?box=8,8,20,20&n=100&seed=2",
        "zoo:blur_region?box=8,8,20,20&n=100&seed=1&size=64",
        "zoo:blur_region?box=8,8,20,20&n=100&seed=1&sigma=2",
        "zoo:noise_region?box=8,8,20,20&n=100&seed=1",
        "zoo:real?n=100&seed=1",
    ]
    prints = {open_zoo_spec(v).fingerprint() for v in variants}
    assert len(prints) == len(variants) and base.fingerprint() not in prints


def test_fingerprint_is_the_same_in_a_fresh_process() -> None:
    import subprocess
    import sys

    spec = "zoo:drop_class?name=car&n=64&seed=4"
    code = f"from genlens.zoo import open_zoo_spec; print(open_zoo_spec({spec!r}).fingerprint())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == open_zoo_spec(spec).fingerprint()


@pytest.mark.parametrize(
    "spec",
    [
        "zoo:real?n=20&seed=0",
        "zoo:clean?n=20&seed=1",
        "zoo:blur_region?box=8,8,20,20&n=20",
        "zoo:color_shift_region?shift=10,0,-10&n=20",
        "zoo:noise_region?std=12&size=64&n=20",
        "zoo:drop_class?name=car&n=20",
        "zoo:rare_class?name=sun&factor=0.1&n=20",
        "zoo:collapse?n_modes=3&jitter=1.5&n=20",
        "zoo:smooth_texture?sigma=2&n=20",
    ],
)
def test_specs_open_and_round_trip_through_spec(spec: str) -> None:
    src = open_zoo_spec(spec)
    reopened = open_zoo_spec(src.spec())
    assert reopened.fingerprint() == src.fingerprint()
    assert torch.equal(reopened.read_all(), src.read_all())
    info = src.describe()
    json.dumps(info)  # JSON-safe provenance
    assert info["spec"] == src.spec() and info["n"] == 20


def test_spec_parameters_reach_the_generator() -> None:
    src = open_zoo_spec("zoo:blur_region?box=1,2,9,10&sigma=0.7&n=5&seed=9&size=64")
    assert src.planted == {"kind": "blur_region", "box": [1, 2, 9, 10], "sigma": 0.7}
    assert (len(src), src.seed, src.image_size) == (5, 9, (64, 64))
    assert open_zoo_spec("zoo:real").planted is None
    assert open_zoo_spec("zoo:drop_class?name=tree").planted == {"kind": "drop_class", "class": "tree"}


def test_defaults_give_real_and_clean_different_seeds() -> None:
    real, clean = open_zoo_spec("zoo:real?n=8"), open_zoo_spec("zoo:clean?n=8")
    assert (real.seed, clean.seed, len(real)) == (0, 1, 8)
    assert not torch.equal(real.read_all(), clean.read_all())


def test_open_source_delegates_zoo_specs() -> None:
    from genlens.io import open_source

    src = open_source("zoo:collapse?n_modes=2&n=12")
    assert isinstance(src, ZooSource) and len(src) == 12


@pytest.mark.parametrize(
    "spec, match",
    [
        ("zoo:sharpen?n=5", "valid names: real, clean, blur_region"),
        ("zoo:real?name=car", "valid: n, seed, size"),
        ("zoo:blur_region?radius=2", "valid: n, seed, size, box, sigma"),
        ("zoo:blur_region?box=1,2,3", "box"),
        ("zoo:clean?n=many", "n="),
        ("zoo:clean?n=5&n=6", "twice"),
        ("zoo:clean?n", "key=value"),
        ("zoo:drop_class?name=dog", "sun, cloud, tree, house, car"),
        ("zoo:real?size=8", "size"),
        ("real?n=5", "must start with 'zoo:'"),
    ],
)
def test_bad_specs_get_a_config_error_naming_the_fix(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        open_zoo_spec(spec)


def test_empty_sources_and_bad_ranges_are_refused() -> None:
    with pytest.raises(InputError, match="n >= 1"):
        open_zoo_spec("zoo:real?n=0")
    with pytest.raises(InputError, match="invalid range"):
        real_source(10).read(5, 2)
