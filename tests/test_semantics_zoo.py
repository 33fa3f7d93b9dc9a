"""Acceptance on the planted-defect world with the (quick) zoo segmenter: the view finds what was planted."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

N = 400


@pytest.fixture(scope="module")
def world():
    from genlens.semantics import get_segmenter, segment_source
    from genlens.zoo import OBJECT_CLASSES, make_generator, real_source

    seg = get_segmenter("zoo-quick")

    def areas(source):
        return segment_source(source, seg, batch_size=200)

    real = areas(real_source(N, seed=0))
    fakes = {("clean", None): areas(make_generator("clean").as_source(N, seed=1))}
    for c in OBJECT_CLASSES:
        fakes[("drop_class", c)] = areas(make_generator("drop_class", name=c).as_source(N, seed=1))
        fakes[("rare_class", c)] = areas(make_generator("rare_class", name=c, factor=0.3).as_source(N, seed=1))
    return seg, real, fakes


def compare(world, key):
    from genlens.semantics import compare_areas

    seg, real, fakes = world
    return compare_areas(real, fakes[key], seg.classes, n_boot=300, seed=0)


def test_drop_class_ranks_the_dropped_class_most_under_represented(world):
    from genlens.zoo import OBJECT_CLASSES

    for c in OBJECT_CLASSES:
        result = compare(world, ("drop_class", c))
        assert result.classes[0].name == c, (c, [(s.name, s.z) for s in result.classes])
        assert result.under_represented(1)[0].name == c
        assert result.by_name(c).fake_presence < 0.05  # the segmenter's rare false positives only


def test_rare_class_is_under_represented_with_a_ci_excluding_zero(world):
    from genlens.zoo import OBJECT_CLASSES

    for c in OBJECT_CLASSES:
        result = compare(world, ("rare_class", c))
        stat = result.by_name(c)
        assert c in [s.name for s in result.under_represented(3)]
        assert stat.area_diff_ci[1] < 0 and stat.presence_diff_ci[1] < 0


def test_clean_fsd_is_below_every_defective_fsd_and_near_the_floor(world):
    clean = compare(world, ("clean", None))
    defective = {key: compare(world, key).fsd for key in world[2] if key[0] != "clean"}
    assert all(clean.fsd < v for v in defective.values()), (clean.fsd, defective)
    assert clean.fsd < 3 * clean.fsd_floor
    assert max(abs(s.z) for s in clean.classes) < 4


def test_fsd_is_the_metrics_frechet_distance_of_the_class_area_vectors(world):
    from genlens.metrics import frechet_distance

    _, real, fakes = world
    fake = fakes[("drop_class", "car")]
    keep = (real != 0).any(0) | (fake != 0).any(0)
    expected = float(frechet_distance(real[:, keep], fake[:, keep]))
    assert compare(world, ("drop_class", "car")).fsd == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(expected) and expected > 0


def test_report_diagnostic_applies_to_zoo_inputs_and_finds_the_dropped_class(tmp_path):
    from genlens.io import ArraySource
    from genlens.views import RunContext, get_view
    from genlens.zoo import make_generator, real_source

    view = get_view("semantics")
    real, fake = real_source(200, seed=0), make_generator("drop_class", name="tree").as_source(200)
    options = view.options({"segmenter": "zoo-quick", "n_boot": 200})
    assert view.applies(real, fake, options) is None
    assert view.applies(real, fake, view.options()) is None  # world scenes name their own segmenter
    section = view.section(view.fit(real, options, RunContext()), fake, RunContext())
    assert section.key == "semantics" and section.status == "ok"
    assert section.data["classes"][0]["name"] == "tree"
    assert "tree" in section.summary and {f.name for f in section.figures} == {"areas", "presence"}
    assert section.table is not None and section.table.rows[0][0] == "tree"

    plain = np.zeros((4, 3, 8, 8), np.uint8)
    assert "--segmenter" in view.applies(ArraySource(plain), ArraySource(plain), view.options())
