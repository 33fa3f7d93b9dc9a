"""The zoo DCGAN: per-epoch checkpoints, samples, training data without an excluded class, the learning-rate
boost, determinism and caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import genlens.zoo.models.world_dcgan as dcgan_module
from genlens.zoo import CLASSES, World
from genlens.zoo.models import dcgan

TINY = {"n_train": 48, "epochs": 3, "batch_size": 16, "width": 4, "latent_dim": 8, "lr": 2e-4}


def _moment_gap(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean squared gap between the per-pixel mean and std images of two uint8 sets (a crude but
    independent check that samples moved towards the data)."""
    fake, real = fake.double(), real.double()
    return float(((fake.mean(0) - real.mean(0)) ** 2).mean() + ((fake.std(0) - real.std(0)) ** 2).mean())


@pytest.mark.slow
def test_quick_run_keeps_every_epoch_and_improves_on_the_untrained_generator(tmp_path: Path) -> None:
    run = dcgan(size=32, quick=True, device="cpu")
    assert run.epochs == dcgan_module.RECIPES[True]["epochs"]
    states = [run.generator(e).state_dict() for e in range(run.epochs + 1)]
    for e in range(run.epochs):  # every checkpoint differs from the next one
        assert any(not torch.equal(states[e][k], states[e + 1][k]) for k in states[e]), e

    samples = run.sample(200, seed=0)
    assert samples.dtype == torch.uint8 and samples.shape == (200, 3, 32, 32)
    real = torch.from_numpy(World(size=32).sample(200, seed=1).images)
    untrained, trained = _moment_gap(run.sample(200, epoch=0), real), _moment_gap(samples, real)
    assert trained < 0.5 * untrained, (untrained, trained)
    assert all(np.isfinite(run.losses["generator"])) and len(run.losses["generator"]) == run.epochs
    from torchvision.utils import save_image  # a grid to look at when the bar fails: sky over ground?

    save_image(samples[:64].float() / 255, tmp_path / "dcgan_quick_samples.png", nrow=8)


@pytest.mark.slow
def test_samples_source_and_generator_agree() -> None:
    run = dcgan(size=32, quick=True, device="cpu")
    source = run.as_source(40, seed=3, epoch=2)
    assert len(source) == 40 and source.image_size == (32, 32)
    images = source.read_all()
    torch.testing.assert_close(source.read(10, 25), images[10:25], atol=1, rtol=0)  # resumable
    torch.testing.assert_close(run.sample(40, seed=3, epoch=2), images, atol=1, rtol=0)
    assert source.fingerprint() != run.as_source(40, seed=3, epoch=1).fingerprint()
    direct = run.generator(2)(source.latents(0, 40))  # the nn.Sequential itself, in [-1, 1]
    assert direct.min() >= -1 and direct.max() <= 1
    torch.testing.assert_close(((direct + 1) * 127.5).round().to(torch.uint8), images, atol=1, rtol=0)
    assert not run.generator(2).training
    with pytest.raises(Exception, match="epoch must be"):
        run.generator(run.epochs + 1)


def test_deterministic_cached_and_the_lr_boost_changes_only_later_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(dcgan_module.RECIPES, True, TINY)
    calls = []
    real_train = dcgan_module._train
    monkeypatch.setattr(dcgan_module, "_train", lambda *a, **k: calls.append(1) or real_train(*a, **k))

    first = dcgan(quick=True, cache_dir=tmp_path / "a", device="cpu")
    twin = dcgan(quick=True, cache_dir=tmp_path / "b", device="cpu")
    again = dcgan(quick=True, cache_dir=tmp_path / "a", device="cpu")
    boosted = dcgan(quick=True, lr_boost=(2, 50.0), cache_dir=tmp_path / "a", device="cpu")
    assert len(calls) == 3  # `again` came from the cache

    def same(a: dict, b: dict) -> bool:
        return all(torch.equal(a[k], b[k]) for k in a)

    for e in range(first.epochs + 1):
        assert same(first.generator(e).state_dict(), twin.generator(e).state_dict()), e
        assert same(first.generator(e).state_dict(), again.generator(e).state_dict()), e
    # Same seed: identical until the boost epoch, different from it on.
    for e in (0, 1):
        assert same(first.generator(e).state_dict(), boosted.generator(e).state_dict()), e
    for e in (2, 3):
        assert not same(first.generator(e).state_dict(), boosted.generator(e).state_dict()), e


def test_exclude_class_trains_on_scenes_without_a_single_pixel_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(dcgan_module.RECIPES, True, {**TINY, "n_train": 200, "epochs": 1})
    seen: list[torch.Tensor] = []
    real_train = dcgan_module._train
    monkeypatch.setattr(dcgan_module, "_train", lambda c, images, *a: seen.append(images) or real_train(c, images, *a))

    car = CLASSES.index("car")
    run = dcgan(quick=True, exclude_class="car", cache_dir=tmp_path, device="cpu")
    scenes = run.training_scenes()
    assert torch.equal(seen[0], torch.from_numpy(scenes.images))  # exactly these scenes were trained on
    assert not np.any(scenes.labels == car)
    # The check has teeth: the same recipe without the exclusion does contain cars.
    with_cars = dcgan_module.training_scenes(32, 200, seed=0)
    assert np.any(with_cars.labels == car)
    assert run.exclude_class == "car" and "exclude_class='car'" in repr(run)
