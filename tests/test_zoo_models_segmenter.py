"""The zoo segmenter: mean IoU on held-out world scenes, the Segmenter protocol, determinism and caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import genlens.zoo.models.scene_segmenter as segmenter_module
from genlens.errors import InputError
from genlens.zoo import CLASSES, World
from genlens.zoo.models import segmenter
from genlens.zoo.models.scene_segmenter import mean_iou, per_class_iou

TINY = {"n_train": 48, "epochs": 1, "batch_size": 16, "lr": 4e-3, "width": 4, "weight_power": 0.5}


@pytest.mark.slow
def test_quick_segmenter_labels_held_out_scenes_with_high_iou_for_every_class() -> None:
    # Acceptance asks >= 0.8 mean IoU at full size (which measures ~0.99). The quick recipe measures
    # ~0.96, so the test holds it to the full bar, and every class to >= 0.5 IoU: the failure it guards
    # against is a segmenter that paints the small objects (~2% of pixels each) as sky or ground.
    seg = segmenter(size=32, quick=True, device="cpu")
    held_out = World(size=32).sample(400, seed=1)  # training uses seeds offset by 7_000_000
    predicted = seg(held_out.images)
    iou = per_class_iou(predicted, held_out.labels, len(CLASSES))
    assert mean_iou(predicted, held_out.labels, len(CLASSES)) >= 0.8, iou
    assert np.all(iou >= 0.5), dict(zip(CLASSES, iou.round(3)))


@pytest.mark.slow
def test_segmenter_satisfies_the_semantics_protocol() -> None:
    seg = segmenter(size=32, quick=True, device="cpu")
    images = World(size=32).sample(5, seed=3).images
    ids = seg(torch.from_numpy(images))
    assert ids.shape == (5, 32, 32) and ids.dtype == torch.int64
    assert int(ids.min()) >= 0 and int(ids.max()) < len(seg.classes)
    assert seg.classes == CLASSES
    torch.testing.assert_close(seg(images), ids)  # numpy input too
    torch.testing.assert_close(seg.logits(images).argmax(1), ids)
    with pytest.raises(InputError, match="uint8"):
        seg(torch.zeros(1, 3, 32, 32))


def test_training_is_deterministic_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(segmenter_module.RECIPES, True, TINY)
    calls = []
    real_fit = segmenter_module.fit_cross_entropy
    monkeypatch.setattr(segmenter_module, "fit_cross_entropy", lambda *a, **k: calls.append(1) or real_fit(*a, **k))

    first = segmenter(quick=True, cache_dir=tmp_path / "a", device="cpu")
    twin = segmenter(quick=True, cache_dir=tmp_path / "b", device="cpu")
    again = segmenter(quick=True, cache_dir=tmp_path / "a", device="cpu")
    assert len(calls) == 2
    for key, value in first.net.state_dict().items():
        assert torch.equal(value, twin.net.state_dict()[key]), key
        assert torch.equal(value, again.net.state_dict()[key]), key
    assert not torch.equal(first.net.head.weight, segmenter_module.TinyUNet(len(CLASSES), 4).head.weight)


def test_balanced_class_weights_boost_rare_classes_and_keep_the_mean_pixel_weight_at_one() -> None:
    from genlens.zoo.models._training import balanced_class_weights

    labels = np.array([0] * 90 + [1] * 9 + [2])
    weights = balanced_class_weights(labels, n_classes=4).numpy()
    freq = np.array([0.9, 0.09, 0.01, 0.0])
    np.testing.assert_allclose(weights[:3] / weights[0], np.sqrt(freq[0] / freq[:3]), rtol=1e-6)
    assert float((weights * freq).sum()) == pytest.approx(1.0)
    assert np.isfinite(weights).all()
