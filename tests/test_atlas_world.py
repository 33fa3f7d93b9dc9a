"""Acceptance on the planted-defect world with the zoo classifier (UMAP layouts, quick sizes).

The planted content is checked through ground truth: the per-pixel labels of the real patches that
the top cells' examples point at, compared with the base rate over all sampled real patches.
"""

from __future__ import annotations

import numpy as np
import pytest

from genlens.atlas.analysis import analyze_atlas
from genlens.zoo import CLASSES, make_generator, real_source

pytestmark = pytest.mark.slow
N, POSITIONS, GRIDS = 600, 4, (20, 40)


@pytest.fixture(scope="module")
def real():
    return real_source(N, seed=0)


def _run(real, generator, layers, **params):
    fake = make_generator(generator, seed=1, **params).as_source(N)
    return analyze_atlas(real, fake, "zoo-classifier", layers=layers, grids=GRIDS, positions=POSITIONS,
                         quick=True, splits=8, top_k=8)


def _clearly_above(grid) -> bool:
    return grid.floor.excess["js"] > 0.5 * grid.floor.floor["js"] and grid.significant_cells(0.01) > 0


def _real_patch_labels(real, cells):
    """Ground-truth labels of the real examples' patches, one (h, w) array per example."""
    examples = [e for c in cells for e in c.examples_real]
    labels = real.scenes(0, N).labels
    return [labels[e.image_id, e.box[0]:e.box[2], e.box[1]:e.box[3]] for e in examples]


@pytest.fixture(scope="module")
def texture(real):
    return _run(real, "smooth_texture", ["block2"])


@pytest.fixture(scope="module")
def dropped(real):
    return _run(real, "drop_class", ["block4"], name="car")


def test_smooth_texture_rises_above_noise_floor_and_points_at_textured_ground(real, texture):
    grid = texture.layer("block2").grids[0]
    assert _clearly_above(grid), grid.to_dict()
    real_cells = [c for c in grid.top_cells if c.direction == "real_excess"][:3]
    assert real_cells
    centre = [p[p.shape[0] // 2, p.shape[1] // 2] for p in _real_patch_labels(real, real_cells)]
    ground = CLASSES.index("ground")
    share = np.mean(np.equal(centre, ground))
    all_labels = real.scenes(0, N).labels
    base = np.mean(all_labels == ground)
    assert share >= 0.8 and share > base + 0.3, (share, base)


def test_drop_class_rises_above_noise_floor_and_top_real_cells_show_the_dropped_class(real, dropped):
    grid = dropped.layer("block4").grids[0]
    assert _clearly_above(grid), grid.to_dict()
    real_cells = [c for c in grid.top_cells if c.direction == "real_excess"][:3]
    assert real_cells and all(c.n_real > 3 * c.n_fake for c in real_cells)
    car = CLASSES.index("car")
    with_car = np.mean([(p == car).any() for p in _real_patch_labels(real, real_cells)])
    base_images = np.mean(real.scenes(0, N).present[:, car])
    assert with_car >= 0.8 and with_car > base_images + 0.3, (with_car, base_images)


def test_clean_generator_stays_within_noise_floor(real):
    result = _run(real, "clean", ["block2", "block4"])
    for layer in result.layers:
        for grid in layer.grids:
            assert grid.floor.excess["js"] < 0.25 * grid.floor.floor["js"], (layer.layer, grid.to_dict())
    payload = result.to_dict()
    entry = payload["layers"]["block2"]["grids"]["20"]
    assert {"kl_real_fake", "kl_fake_real", "js", "noise_floor", "top_cells"} <= set(entry)
