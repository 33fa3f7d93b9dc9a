"""Acceptance of layer inversion on the zoo DCGAN (quick size, 20 epochs), with a planted omission.

Two DCGANs share everything but their data: one never saw a car (``exclude_class="car"``), the
control saw the full world. Real scenes with a car are inverted through each one's later layers
(split after ``block1``, r = 8x8 maps). The instance view must report the car lost for the first
generator and kept for the control: the finding is specific to the planted omission, not a general
failure to reconstruct.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow

EPOCHS = 20
SPLIT = "block1"


@pytest.fixture(scope="module")
def segmenter():
    from genlens.semantics import get_segmenter

    return get_segmenter("zoo-quick")


@pytest.fixture(scope="module")
def car_scenes():
    from genlens.zoo import CLASSES, World

    scenes = World(32).sample(300, seed=123)
    car_area = (scenes.labels == CLASSES.index("car")).mean((1, 2))
    idx = np.flatnonzero(car_area >= 0.04)[:12]
    assert len(idx) == 12
    return torch.from_numpy(scenes.images[idx])


def inverted(exclude, segmenter, car_scenes):
    from genlens.semantics import GeneratorSplit, invert_and_inspect, train_encoder
    from genlens.zoo.models import dcgan

    run = dcgan(quick=True, epochs=EPOCHS, exclude_class=exclude, keep_epochs=(EPOCHS,))
    split = GeneratorSplit.from_sequential(run.generator(), SPLIT, (run.latent_dim,))
    encoder = train_encoder(split, steps=150, batch_size=32, seed=0)
    own = invert_and_inspect(split, run.sample(8, seed=5), segmenter, encoder=encoder, steps=150)
    real = invert_and_inspect(split, car_scenes, segmenter, encoder=encoder, steps=150)
    return own, real


@pytest.fixture(scope="module")
def without_car(segmenter, car_scenes):
    return inverted("car", segmenter, car_scenes)


@pytest.fixture(scope="module")
def control(segmenter, car_scenes):
    return inverted(None, segmenter, car_scenes)


def test_own_samples_are_reconstructed_with_low_error_and_the_right_classes(without_car, control):
    for own, _ in (without_car, control):
        assert own.inversion.l1_final.mean() < 0.02
        assert own.view.lost_counts() == {}
        assert np.mean([f.agreement for f in own.view.findings]) > 0.95


def test_generator_trained_without_cars_loses_them_and_the_control_does_not(without_car, control):
    lost_rate = without_car[1].view.loss_rate("car")
    control_rate = control[1].view.loss_rate("car")
    assert lost_rate >= 0.5, without_car[1].view.lost_counts()
    assert control_rate <= 0.25, control[1].view.lost_counts()
    # The omission is specific: car is the class the first generator loses most often.
    assert next(iter(without_car[1].view.lost_counts())) == "car"
    worst = without_car[1].view.worst("car", k=3)
    assert worst and all("car" in without_car[1].view.findings[i].lost for i in worst)
