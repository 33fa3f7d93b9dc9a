"""The critic on real photographs (the zoo's photo world, 32-px crops): what the seeds' methods miss.

Regions on pixels or on a random network's feature map are blind to a blurred quadrant of a photo
crop (docs/regions.md); the critic at its defaults must locate it, stay quiet on a clean generator,
and name the photograph a generator dropped. Defaults only: these are the settings a user gets.
"""

from __future__ import annotations

import pytest

pytest.importorskip("skimage")

from genlens.critic.analysis import CriticPlan, compare_critic  # noqa: E402
from genlens.zoo.photos import PHOTO_GENERATORS, make_photo_generator, photo_source  # noqa: E402

pytestmark = pytest.mark.slow
PARAMS = dict(PHOTO_GENERATORS)


def _compare(kind: str, n: int):
    real = photo_source(n, seed=0)
    fake = make_photo_generator(kind, **PARAMS[kind]).as_source(n)
    return compare_critic(real, fake, CriticPlan(), None)


def test_a_clean_generator_of_photographs_gives_no_finding():
    result = _compare("photo_clean", 400)
    assert not any(f.significant for f in result.findings()), [f.sentence for f in result.findings()]


@pytest.mark.parametrize("kind", ["photo_blur_region", "photo_jpeg_region"])
def test_a_quadrant_defect_is_located_where_it_was_planted(kind: str):
    """A blurred quadrant, and the subtlest planted defect, q=10 JPEG in one quadrant (z = 4.8-8.0 over
    six runs at the defaults): a significant region centred in the planted box."""
    box = PARAMS[kind]["box"]
    result = _compare(kind, 600)
    regions = [f for f in result.findings() if f.kind == "region" and f.significant]
    assert regions, result.summary()
    top, left, bottom, right = regions[0].where
    centre = ((top + bottom) / 2, (left + right) / 2)
    assert box[0] <= centre[0] < box[2] and box[1] <= centre[1] < box[3], regions[0].where


def test_the_dropped_photograph_is_the_missed_mode():
    result = _compare("photo_drop_source", 400)
    mode = next(f for f in result.findings() if f.kind == "mode")
    assert mode.significant, mode.sentence
    assert sum(name.startswith("coffee#") for name in result.real_names) >= 6, result.real_names
    assert not any(f.kind == "region" and f.significant for f in result.findings())  # no one place: global
