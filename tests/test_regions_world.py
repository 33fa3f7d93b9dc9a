"""On the planted-defect world: a damaged box is found in the cluster that covers it, nowhere else.

The partition is made once from 300 real world images (1 - CKA distance, k = 12: clusters of sky,
the tree/house band, the horizon and the ground). Each region defect is planted at three places
chosen from the world's layout (sky on the left, the object band on the right, open ground at the
bottom right) and compared with the clean generator drawn with the same seed as the defective one.
"""

from __future__ import annotations

import numpy as np
import pytest

from genlens.regions.analysis import analyze_regions, build_partition
from genlens.regions.cms import CmsPlan
from genlens.zoo import make_generator, real_source

pytestmark = pytest.mark.slow

N = 300
BOXES = [(4, 3, 14, 11), (6, 17, 16, 27), (22, 27, 32, 32)]
DEFECTS = ["blur_region", "noise_region", "color_shift_region"]
#: Blur and additive noise barely move an RBF mean embedding at the median bandwidth (noise adds a
#: near-constant to every distance, which cancels in the cosine); a 10x narrower kernel sees them.
SCALE = 0.1
PLAN = CmsPlan(n_boot=100, floor_splits=3, seed=0)


@pytest.fixture(scope="module")
def world() -> dict:
    real = real_source(N, seed=0).read_all()
    part = build_partition(real, clusters=12, distance="one_minus_cka", max_images=N)
    clean = make_generator("clean", seed=5).as_source(N, seed=1).read_all()
    return {
        "real": real,
        "partition": part,
        "clean": {s: analyze_regions(real, clean, partition=part, plan=PLAN, bandwidth_scale=s) for s in (1.0, SCALE)},
    }


def _overlap(labels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    y0, x0, y1, x1 = box
    return np.bincount(labels[y0:y1, x0:x1].ravel(), minlength=int(labels.max()) + 1)


@pytest.mark.parametrize("box", BOXES)
@pytest.mark.parametrize("defect", DEFECTS)
def test_defect_is_located_in_the_cluster_covering_the_box(world, defect, box) -> None:
    part, clean = world["partition"], world["clean"][SCALE]
    fake = make_generator(defect, seed=5, box=box).as_source(N, seed=1).read_all()
    res = analyze_regions(world["real"], fake, partition=part, plan=PLAN, bandwidth_scale=SCALE)
    overlap = _overlap(part.labels, box)
    drop = np.log([c.cms for c in clean.clusters]) - np.log([c.cms for c in res.clusters])
    assert int(np.argmax(drop)) == int(np.argmax(overlap)), (defect, box, overlap, drop)
    for c in res.clusters:  # clusters away from the box: unchanged within their CI
        if overlap[c.id] == 0:
            assert c.ci[0] <= clean.clusters[c.id].cms <= c.ci[1], (defect, box, c)
    if defect == "color_shift_region":  # strong enough to be found without a clean reference
        assert res.worst.id == int(np.argmax(overlap))
        assert res.worst.significant


def test_narrow_bandwidth_raises_sensitivity_to_pixel_noise(world) -> None:
    """Documented behaviour of --bandwidth-scale: the noisy box's cluster drops further below the
    clean generator's value, measured in its own CI half-widths, as the kernel narrows; at the
    median bandwidth the drop is within noise, at 0.03x it is significant and named worst."""
    box = BOXES[1]
    fake = make_generator("noise_region", seed=5, box=box).as_source(N, seed=1).read_all()
    clean = make_generator("clean", seed=5).as_source(N, seed=1).read_all()
    target = int(np.argmax(_overlap(world["partition"].labels, box)))
    z, worst = [], []
    for scale in (1.0, 0.1, 0.03):
        kw = {"partition": world["partition"], "plan": PLAN, "bandwidth_scale": scale}
        ref = world["clean"].get(scale) or analyze_regions(world["real"], clean, **kw)
        res = analyze_regions(world["real"], fake, **kw)
        c = res.clusters[target]
        z.append((np.log(ref.clusters[target].cms) - np.log(c.cms)) / (0.5 * (np.log(c.ci[1]) - np.log(c.ci[0]))))
        worst.append(res.worst.id)
    assert z[0] < z[1] < z[2], z
    assert z[0] < 1.0 < 2.0 < z[2], z
    assert worst[2] == target
