"""Fast checks of the zoo-models package that train nothing: lazy factories, IoU, input checks, shapes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from genlens.errors import ConfigError, InputError


def test_model_factories_are_lazy_and_are_their_modules_functions() -> None:
    code = (
        "import sys, genlens.zoo.models as m\n"
        "assert not any(k.startswith('genlens.zoo.models.') and k != 'genlens.zoo.models.store' "
        "for k in sys.modules), sorted(sys.modules)\n"
        "import genlens.zoo.models.world_dcgan as d\n"
        "import genlens.zoo.models.scene_segmenter as s\n"
        "from genlens.zoo.models.scene_classifier import ZooClassifier\n"
        "from genlens.zoo.models import segmenter\n"
        "assert d.RECIPES and m.dcgan is d.dcgan and segmenter is s.segmenter and ZooClassifier\n"
        "import genlens.errors\n"
        "for call in (m.dcgan, m.classifier, segmenter):\n"
        "    try:\n"
        "        call(size=30)\n"  # reaches the factory: its own size check answers
        "    except genlens.errors.ConfigError as e:\n"
        "        assert 'multiple of 8' in str(e)\n"
        "    else:\n"
        "        raise AssertionError(call)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_name_is_an_attribute_error() -> None:
    import genlens.zoo.models as models

    with pytest.raises(AttributeError, match="no attribute 'resnet'"):
        models.resnet  # noqa: B018


def _naive_iou(pred: np.ndarray, target: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.full(n_classes, np.nan)
    for c in range(n_classes):
        p, t = pred == c, target == c
        union = np.logical_or(p, t).sum()
        if union:
            out[c] = np.logical_and(p, t).sum() / union
    return out


def test_per_class_iou_matches_a_naive_reference(rng: np.random.Generator) -> None:
    from genlens.zoo.models.scene_segmenter import mean_iou, per_class_iou

    target = rng.integers(0, 5, size=(6, 8, 8))  # class 5 never occurs: NaN, skipped by the mean
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, 5, size=target.shape))
    expected = _naive_iou(pred, target, 6)
    got = per_class_iou(torch.from_numpy(pred), torch.from_numpy(target), 6)
    np.testing.assert_allclose(got, expected, equal_nan=True)
    assert np.isnan(got[5])
    assert mean_iou(pred, target, 6) == pytest.approx(np.nanmean(expected))
    assert mean_iou(target, target, 6) == 1.0


def test_generator_is_named_sequential_at_every_size() -> None:
    from genlens.zoo.models.world_dcgan import build_discriminator, build_generator

    for size, n_blocks in ((16, 2), (32, 3), (64, 4)):
        g = build_generator(latent_dim=16, size=size, width=4)
        names = [name for name, _ in g.named_children()]
        assert names == ["fc"] + [f"block{k}" for k in range(1, n_blocks + 1)] + ["to_rgb"]
        x = g(torch.randn(2, 16))
        assert x.shape == (2, 3, size, size) and x.abs().max() <= 1
        # The later layers can be split off: running the halves in turn gives the same images.
        head, tail = g[:2], g[2:]
        torch.testing.assert_close(tail(head(torch.zeros(1, 16))), g(torch.zeros(1, 16)))
        assert build_discriminator(size, 4)(x).shape == (2, 1)


def test_classifier_modules_are_named_for_hooks_and_accept_uint8() -> None:
    from genlens.zoo.models.scene_classifier import ZooClassifier

    model = ZooClassifier(("a", "b", "c"), width=4, feature_dim=8).eval()
    assert [n for n, _ in model.named_children()] == ["conv1", "block2", "block3", "block4", "penultimate", "fc"]
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    feats = model.features(images, device="cpu")
    assert feats.shape == (5, 8) and feats.dtype == torch.float32
    torch.testing.assert_close(model.fc(feats).argmax(1), model.predict(images, device="cpu"))
    # uint8 input and its [-1, 1] float equivalent are the same input.
    torch.testing.assert_close(model(images), model(images.float() / 127.5 - 1))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.zeros(2, 3, 32, 32), "uint8"),
        (torch.zeros(2, 1, 32, 32, dtype=torch.uint8), r"\(B, 3, H, W\)"),
        (torch.zeros(2, 3, 64, 64, dtype=torch.uint8), "trained at 32x32"),
        ([1, 2, 3], "torch tensor or numpy array"),
    ],
)
def test_bad_image_batches_are_refused_clearly(bad: object, match: str) -> None:
    from genlens.zoo.models.scene_classifier import ZooClassifier

    with pytest.raises(InputError, match=match):
        ZooClassifier(("a", "b"), width=4, feature_dim=8, size=32).predict(bad)


def test_bad_options_are_config_errors(tmp_path) -> None:
    from genlens.zoo.models import classifier, dcgan

    with pytest.raises(ConfigError, match="multiple of 8"):
        classifier(size=30, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="power-of-two"):
        dcgan(size=48, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="not a world object class"):
        dcgan(exclude_class="unicorn", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="lr_boost epoch"):
        dcgan(quick=True, epochs=2, lr_boost=(5, 10.0), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="epochs"):
        dcgan(epochs=0, cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.pt"))  # nothing was trained or cached
