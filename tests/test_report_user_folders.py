"""genlens on what users have: plain folders of PNG crops of real photographs (scikit-learn ships two).

No zoo default may reach user images: nothing of the zoo is trained, no zoo class name is attached,
views that need a network the user did not name say which flag enables them, and costs are said
before they are paid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow


def _crops(photo: np.ndarray, n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    ys, xs = rng.integers(0, h - size, n), rng.integers(0, w - size, n)
    return np.stack([photo[y : y + size, x : x + size] for y, x in zip(ys, xs)])


def _write(folder: Path, name: str, crops: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, crop in enumerate(crops):
        Image.fromarray(crop).save(folder / f"{name}_{i:03d}.png")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Real: crops of both photographs; generated: crops of the first only (the second is dropped)."""
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    root = tmp_path_factory.mktemp("photos")
    for size in (32, 64):
        _write(root / f"real{size}", "china", _crops(china, 80, size, seed=1))
        _write(root / f"real{size}", "flower", _crops(flower, 80, size, seed=2))
        _write(root / f"fake{size}", "china", _crops(china, 160, size, seed=3))
    return root


def _genlens(args, env_extra=None, timeout=900):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "genlens", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_a_report_on_photo_folders_trains_nothing_of_the_zoo_and_names_each_views_flag(photos, tmp_path):
    cache = tmp_path / "cache"
    proc = _genlens(["report", photos / "real32", photos / "fake32", "--out", tmp_path / "r",
                     "--set", "metrics.n_boot=10", "--set", "regions.n_boot=20", "--set", "atlas.input_size=64",
                     "--set", "atlas.grids=8", "--set", "atlas.method=pca", "--set", "critic.min_steps=200"],
                    {"GENLENS_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    sections = doc["sections"]
    assert not (cache / "zoo").exists()  # no zoo model was trained (or even looked up) for user images
    # comparing two sets of user images, the default feature space is trained on the real folder only
    assert sections["metrics"]["data"]["extractor"]["feature_space"] == "learned"
    assert sections["critic"]["status"] == "ok" and sections["regions"]["data"]["representation"].startswith(
        "random-vgg16:")
    assert sections["atlas"]["status"] == "ok" and sections["atlas"]["data"]["model"]["name"] == "random-vgg16"
    assert sections["atlas"]["data"]["classes"] is None  # no world class names on photographs
    assert sections["semantics"]["status"] == "skipped" and "--segmenter" in sections["semantics"]["reason"]
    assert sections["manifold"]["status"] == "skipped" and "--decoder" in sections["manifold"]["reason"]
    assert "Standard metrics" in proc.stderr and "s)" in proc.stderr  # each stage's verdict and time
    # a flag enables the view: a segmenter of the user's own (a small test factory)
    proc = _genlens(["report", photos / "real32", photos / "fake32", "--out", tmp_path / "s", "--only", "semantics",
                     "--segmenter", "test_semantics_statistics:SEG"],
                    {"GENLENS_CACHE": str(cache), "PYTHONPATH": str(Path(__file__).parent)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "s" / "results.json").read_text())["sections"]["semantics"]["status"] == "ok"


def test_track_on_photo_folders_uses_no_zoo_network_and_prints_each_steps_time(photos, tmp_path):
    """``genlens track -d regions,atlas`` on plain folders: a random VGG-16 for both (one pass per step),
    no zoo classifier attached to photographs, and one line per step with its time."""
    runs = tmp_path / "runs" / "a"
    runs.mkdir(parents=True)
    (runs / "epoch_1").symlink_to(photos / "fake32", target_is_directory=True)
    (runs / "epoch_2").symlink_to(photos / "real32", target_is_directory=True)
    cache = tmp_path / "cache"
    proc = _genlens(["track", "--real", photos / "real32", "--runs", tmp_path / "runs", "--out", tmp_path / "t",
                     "-d", "regions,atlas", "-k", "3", "--atlas-grid", "6"], {"GENLENS_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "t" / "results.json").read_text())
    assert doc["reference"]["atlas"]["model"] == "random-vgg16" and doc["reference"]["atlas"]["classes"] == []
    assert not (cache / "zoo").exists()
    assert "a step 1: " in proc.stderr and "a step 2: " in proc.stderr
    js = dict(doc["series"]["a"]["atlas/features.29/js"])
    assert js[1] > js[2]  # the set without the flower photograph is further from the real one than itself


def test_the_atlas_headline_names_the_cell_of_the_dropped_photograph(photos, tmp_path):
    from genlens.io import open_source
    from genlens.views import RunContext, get_view

    real, fake = open_source(photos / "real32"), open_source(photos / "fake32")
    view = get_view("atlas")
    options = view.options(input_size=64, grids=(8, 16), positions=2, method="pca", viewer=False)
    ctx = RunContext(out_dir=tmp_path)
    section = view.section(view.fit(real, options, ctx), fake, ctx)
    found = [f for f in section.findings if f.significant]
    assert found, section.summary
    top = max(found, key=lambda f: f.score)
    assert top.where["n_real"] > 3 * top.where["n_fake"]  # a cell the generator leaves (almost) empty
    names = [real.name_of(i) for i in top.where["real_examples"]]
    assert names and all(name.startswith("flower_") for name in names), names
    assert "flower_" in section.summary and "beyond noise" in section.summary


def test_pixels_on_64px_images_warn_and_finish_quickly(photos):
    proc = _genlens(["metrics", photos / "real64", photos / "fake64", "--features", "pixels", "--metrics", "fid,kid",
                     "--n-boot", "0"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning:" in proc.stderr and "d=12288" in proc.stderr  # the singular covariance is said, not hidden
