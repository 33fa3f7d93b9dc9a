"""The zoo classifier: accuracy on held-out world scenes, its feature space, determinism and caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import genlens.zoo.models.scene_classifier as classifier_module
from genlens.zoo import CLASSES, World
from genlens.zoo.models import classifier

#: A recipe small enough to train in about a second; the code path is the real one.
TINY = {"n_train": 96, "epochs": 1, "batch_size": 32, "lr": 3e-3, "width": 4, "feature_dim": 8}


@pytest.mark.slow
def test_quick_classifier_names_the_dominant_object_of_held_out_scenes() -> None:
    # Acceptance asks >= 95% at full size; the quick recipe already reaches it (it measures 100% on
    # these scenes), so the test holds quick to the same bar rather than a looser one.
    model = classifier(size=32, quick=True)
    held_out = World(size=32).sample(1000, seed=1)  # training uses seeds offset by 7_000_000
    predicted = model.predict(held_out.images, device="cpu").numpy()
    accuracy = float(np.mean(predicted == held_out.main_class))
    assert accuracy >= 0.95, accuracy
    assert model.classes == CLASSES


@pytest.mark.slow
def test_penultimate_features_are_the_registered_zoo_classifier_feature_space() -> None:
    from genlens.features import get_extractor

    model = classifier(size=32, quick=True)
    images = torch.from_numpy(World(size=32).sample(16, seed=2).images)
    features = model.features(images, device="cpu")
    assert features.shape == (16, model.feature_dim)
    extractor = get_extractor("zoo-classifier", device="cpu", quick=True)
    torch.testing.assert_close(extractor(images)["features"], features, rtol=1e-4, atol=1e-5)


def test_training_is_deterministic_cached_and_leaves_the_global_rng_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(classifier_module.RECIPES, True, TINY)
    calls = []
    real_fit = classifier_module.fit_cross_entropy
    monkeypatch.setattr(classifier_module, "fit_cross_entropy", lambda *a, **k: calls.append(1) or real_fit(*a, **k))

    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = classifier(quick=True, cache_dir=tmp_path / "a", device="cpu")
    torch.testing.assert_close(torch.rand(3), expected_next)  # training did not consume the caller's RNG

    twin = classifier(quick=True, cache_dir=tmp_path / "b", device="cpu")
    again = classifier(quick=True, cache_dir=tmp_path / "a", device="cpu")
    other_seed = classifier(quick=True, seed=1, cache_dir=tmp_path / "a", device="cpu")
    assert len(calls) == 3  # the third call loaded the cache instead of training

    for key, value in first.state_dict().items():
        assert torch.equal(value, twin.state_dict()[key]), key
        assert torch.equal(value, again.state_dict()[key]), key
    assert not torch.equal(first.fc.weight, other_seed.fc.weight)
    assert len(list((tmp_path / "a" / "zoo").glob("zoo-classifier-*.pt"))) == 2
