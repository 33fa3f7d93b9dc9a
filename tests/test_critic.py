"""The critic view: exact held-out tests, and on the planted-defect world a critic that finds the clean
generator indistinguishable, the colour-shifted box where it is, and the real images with the class the
generator dropped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens.critic.analysis import CriticPlan, compare_critic
from genlens.critic.model import train_critic
from genlens.critic.stats import (
    accuracy_test,
    auc_test,
    block_edges,
    mode_test,
    regions_of,
)
from genlens.critic.view import CriticView
from genlens.io.arrays import ArraySource

N = 400
PLAN = CriticPlan(epochs=6, min_steps=0, crop=0)  # the world's defects are plain: 42 whole batches suffice
BOX = (2, 18, 12, 30)  # top, left, bottom, right of the planted colour shift


# -- the tests are exact under the null -------------------------------------------------------------
def _null_scores(rng: np.random.Generator, n: int = 100, folds: int = 2) -> tuple[list, list]:
    """Scores independent of labels, with ties-free continuous values and a critic that leans "real"."""
    scores = [rng.normal(0.3, 1.0, 2 * n) for _ in range(folds)]
    return [s[:n] for s in scores], [s[n:] for s in scores]


def test_accuracy_and_mode_tests_keep_their_false_alarm_rate():
    rng = np.random.default_rng(0)
    p_acc, p_auc, p_mode = [], [], []
    for _ in range(400):
        real, fake = _null_scores(rng)
        p_acc.append(accuracy_test(real, fake)[1])
        p_auc.append(auc_test(real, fake)[1])
        p_mode.append(mode_test(real, fake, 0.01).p)
    for p in (np.array(p_acc), np.array(p_auc), np.array(p_mode)):
        assert (p < 0.05).mean() <= 0.075  # discrete tests: at most their level, up to sampling noise
        assert (p < 0.5).mean() <= 0.6


def test_correlated_folds_do_not_inflate_the_false_alarm_rate():
    """Each fold's critic is trained on the other's images, so their statistics move together; the
    combination must hold its level even when the two folds say exactly the same thing."""
    rng = np.random.default_rng(2)
    alarms = {"auc": 0, "accuracy": 0, "mode": 0}
    for _ in range(400):
        real, fake = _null_scores(rng, folds=1)
        real, fake = real * 2, fake * 2  # two folds, perfectly correlated
        alarms["auc"] += auc_test(real, fake)[1] < 0.05
        alarms["accuracy"] += accuracy_test(real, fake)[1] < 0.05
        alarms["mode"] += mode_test(real, fake, 0.01).p < 0.05
    assert all(count / 400 <= 0.075 for count in alarms.values()), alarms


def test_tests_find_a_separation_and_a_missed_mode():
    rng = np.random.default_rng(1)
    real = [np.concatenate([rng.normal(0, 1, 80), rng.normal(4, 1, 20)]) for _ in range(2)]  # 20% a missed mode
    fake = [rng.normal(0, 1, 100) for _ in range(2)]
    accuracy, p = accuracy_test(real, fake)
    auc, p_auc = auc_test(real, fake)
    mode = mode_test(real, fake, 0.01)
    assert mode.p < 1e-6 and mode.count >= 30 and mode.expected < 3
    assert accuracy > 0.5 and p < 0.05 and auc > 0.6 and p_auc < 0.01
    assert mode.subset and abs(mode.missed_share - 0.2) < 0.1, mode  # the other 80% score as the fakes do


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_a_shift_of_every_real_image_is_not_a_missed_subset(shift):
    rng = np.random.default_rng(2)
    real = [rng.normal(shift, 1, 400) for _ in range(2)]
    fake = [rng.normal(0, 1, 400) for _ in range(2)]
    mode = mode_test(real, fake, 0.01)
    assert mode.p < 1e-3 and not mode.subset, mode  # surely-real images in excess, but all of them moved


def test_regions_are_bounding_boxes_of_connected_significant_blocks():
    z = np.zeros((8, 8))
    z[0:2, 5:8] = 6.0  # a 2x3 group of blocks, top right
    z[6, 0] = 4.0  # a lone block, weaker
    edges = block_edges(32, 8), block_edges(32, 8)
    found = regions_of(z, edges, threshold=3.5)
    assert [r.box for r in found] == [(0, 20, 8, 32), (24, 0, 28, 4)]
    assert [r.significant for r in found] == [True, True] and found[0].score == 6.0
    quiet = regions_of(np.full((8, 8), 1.0), edges, threshold=3.5)
    assert len(quiet) == 1 and not quiet[0].significant


def test_coarser_grids_find_a_thin_spread_defect_once():
    """A gap spread thinly over a quadrant: no small block passes, the quadrant's block on the 2x2 grid
    does and is the region; where a fine region exists, the coarse blocks over it add nothing."""
    from genlens.critic.stats import BlockLevel, scan_grids, scan_regions

    assert scan_grids(8) == (8, 4, 2) and scan_grids(5) == (5, 2) and scan_grids(1) == (1,)
    levels = [BlockLevel(g, np.zeros((g, g)), (block_edges(32, g), block_edges(32, g))) for g in (8, 4, 2)]
    levels[0].z[0:4, 4:8] = 2.5  # top-right quadrant, below the threshold in every small block
    levels[1].z[0:2, 2:4] = 3.0
    levels[2].z[0, 1] = 8.0
    found = scan_regions(levels, threshold=3.54)
    assert [(r.box, r.grid, r.significant) for r in found] == [((0, 16, 16, 32), 2, True)]
    levels[0].z[1, 6] = 5.0  # now one small block passes: it is the finding, the quadrant is not repeated
    found = scan_regions(levels, threshold=3.54)
    assert [(r.box, r.grid) for r in found] == [((4, 24, 8, 28), 8)]
    quiet = [BlockLevel(g, np.full((g, g), 0.5 * g), (block_edges(32, g), block_edges(32, g))) for g in (8, 2)]
    weakest = scan_regions(quiet, threshold=5.0)  # nothing passes: the strongest block of any grid, not significant
    assert [(r.grid, r.significant, r.score) for r in weakest] == [(8, False, 4.0)]


def test_a_significant_region_over_most_of_the_image_is_a_global_finding():
    """A dropped mode lowers the critic's logits everywhere: a box over the whole image is no place."""
    from types import SimpleNamespace

    from genlens.critic.result import CriticResult

    image = SimpleNamespace(image_size=(32, 32))
    assert CriticResult.covers_most(image, (0, 0, 32, 32)) and CriticResult.covers_most(image, (0, 0, 16, 32))
    assert not CriticResult.covers_most(image, (0, 0, 16, 16))


def test_training_is_seeded_and_leaves_the_callers_rng_alone():
    gen = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (32, 3, 8, 8), dtype=torch.uint8, generator=gen)
    fake = torch.randint(0, 256, (32, 3, 8, 8), dtype=torch.uint8, generator=gen)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    kwargs = {"width": 4, "depth": 2, "epochs": 1, "batch_size": 16, "lr": 1e-2, "crop": 0, "seed": 7,
              "device": torch.device("cpu")}
    a = train_critic(real, fake, **kwargs)
    assert torch.equal(torch.rand(3), expected)
    b = train_critic(real, fake, **kwargs)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_view_says_when_it_does_not_apply():
    view = CriticView()
    options = view.options({"folds": 3})
    small = ArraySource(np.zeros((30, 3, 16, 16), np.uint8))
    big = ArraySource(np.zeros((100, 3, 16, 16), np.uint8))
    other = ArraySource(np.zeros((100, 3, 8, 8), np.uint8))
    assert "60" in view.applies(big, small, options)
    assert "pixel by pixel" in view.applies(big, other, options)
    assert view.applies(big, big, options) is None


def test_images_that_would_not_fit_in_memory_are_refused_in_one_line(monkeypatch):
    import genlens._memory as memory
    from genlens.errors import MemoryNeedError

    monkeypatch.setattr(memory, "free_bytes", lambda device=None: 2**20)  # 1 MiB free
    images = ArraySource(np.zeros((100, 3, 32, 32), np.uint8))  # 100 + 100 images: 5.6 MiB with copies
    with pytest.raises(MemoryNeedError, match=r"the critic on 100 \+ 100 images of 32x32 needs about .* --n"):
        compare_critic(images, images, PLAN, None)


# -- the planted-defect world -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def real():
    from genlens.zoo import real_source

    return real_source(N, seed=0, size=32)


def _fake(kind: str, **params):
    from genlens.zoo import make_generator

    return make_generator(kind, seed=3, **params).as_source(N, seed=3)


@pytest.mark.slow
def test_a_clean_generator_gives_no_finding(real):
    result = compare_critic(real, _fake("clean"), PLAN, None)
    assert abs(result.accuracy - 0.5) < 0.05 and abs(result.auc - 0.5) < 0.05 and result.p > 0.05
    assert not any(f.significant for f in result.findings())
    section = result.to_section()
    assert section.key == "critic" and section.verdict == "nothing beyond noise" and len(section.figures) == 3
    assert "within chance" in section.summary and "within noise" in section.summary


@pytest.mark.slow
def test_a_colour_shifted_box_is_found_where_it_was_planted(real):
    result = compare_critic(real, _fake("color_shift_region", box=BOX), PLAN, None)
    findings = result.findings()
    assert result.p < 1e-6 and result.p_accuracy < 1e-6 and findings[0].kind == "global" and findings[0].significant
    regions = [f for f in findings if f.kind == "region" and f.significant]
    assert regions, findings
    top, left, bottom, right = regions[0].where
    centre = ((top + bottom) / 2, (left + right) / 2)
    assert BOX[0] <= centre[0] < BOX[2] and BOX[1] <= centre[1] < BOX[3], regions[0].where
    assert regions[0].score > result.threshold_z
    # nothing significant far from the box: the lower half of the map stays within noise
    assert result.block_z[4:].max() < result.threshold_z


@pytest.mark.slow
def test_the_real_images_with_the_dropped_class_are_the_missed_mode(real):
    from genlens.zoo import CLASSES

    result = compare_critic(real, _fake("drop_class", name="car"), PLAN, None)
    mode = next(f for f in result.findings() if f.kind == "mode")
    assert mode.significant, mode.sentence
    car = CLASSES.index("car")
    has_car = [bool(real.scenes(i, i + 1).present[0, car]) for i in mode.where["real_examples"]]
    assert np.mean(has_car) >= 0.75, has_car  # ~40% of real images contain a car
    assert set(mode.where) == {"real_examples", "fake_examples", "real_names"} and "#" in mode.sentence
    assert mode.family == "critic/mode" and mode.p_family <= mode.alpha


@pytest.mark.slow
def test_a_blur_every_generated_image_shares_is_global_not_a_missed_mode(real):
    result = compare_critic(real, _fake("blur_region", box=(16, 0, 32, 32)), PLAN, None)
    assert result.mode.p < result.alpha and not result.mode.subset  # many surely-real images, none of them a mode
    kinds = {f.kind for f in result.findings() if f.significant}
    assert "mode" not in kinds and kinds & {"global", "region"}, result.findings()
    assert "not a missed subset" in next(f for f in result.findings() if f.family == "critic/mode").sentence


@pytest.mark.slow
def test_the_report_runner_shows_a_critic_section(real):
    import json

    from genlens.report.runner import Runner
    from genlens.zoo import real_source

    small = real_source(120, seed=0, size=32)
    runner = Runner(small, options={"critic": {"epochs": 2, "min_steps": 0}}, only=["critic"])
    sections = runner.sections(_fake("color_shift_region", box=BOX))
    assert [s.key for s in sections] == ["critic"]
    section = sections[0]
    assert section.status == "ok", section.reason
    assert {f.kind for f in section.findings} == {"global", "region", "mode"}
    json.dumps(section.data)  # JSON-safe as it is
    assert section.data["n_real"] == 120 and section.data["options"]["epochs"] == 2
