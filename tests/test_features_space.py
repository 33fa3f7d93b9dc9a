"""The offline default feature space and precomputed feature files."""

from __future__ import annotations

import numpy as np
import pytest

from genlens.io import PrefixSource
from genlens.errors import InputError
from genlens.io import ArraySource
from genlens.features.space import default_feature_space, load_precomputed, resolve_feature_space


def test_default_is_the_zoo_classifier_only_for_zoo_images():
    from genlens.zoo import make_generator, real_source

    real = real_source(4)
    fake = make_generator("clean", seed=3).as_source(4, seed=3)
    other = ArraySource(np.zeros((4, 3, 32, 32), dtype=np.uint8))
    assert default_feature_space(real, fake) == "zoo-classifier"
    assert default_feature_space(PrefixSource(real, 2), fake) == "zoo-classifier"
    assert default_feature_space(real, other) == "random-vgg16"
    assert resolve_feature_space("auto", other) == "random-vgg16"
    assert resolve_feature_space("pixels", real) == "pixels"


def test_prefix_source_reads_the_first_images_with_its_own_fingerprint():
    images = np.random.default_rng(0).integers(0, 255, (6, 3, 5, 5), dtype=np.uint8)
    src = ArraySource(images)
    head = PrefixSource(src, 4)
    assert len(head) == 4 and head.image_size == (5, 5)
    assert np.array_equal(head.read_all().numpy(), images[:4])
    assert head.fingerprint() != src.fingerprint() != PrefixSource(src, 5).fingerprint()
    assert head.describe()["n"] == 4 and head.describe()["n_available"] == 6


def test_precomputed_npz_carries_logits_for_the_inception_score(tmp_path):
    feats, logits = np.ones((5, 3)), np.zeros((5, 10))
    np.savez(tmp_path / "f.npz", features=feats, logits=logits)
    fs = load_precomputed(tmp_path / "f.npz")
    assert fs.features.shape == (5, 3) and fs.logits.shape == (5, 10)
    assert fs.source["kind"] == "precomputed" and fs.head(2).source["fingerprint"] != fs.source["fingerprint"]
    np.savez(tmp_path / "bad.npz", features=feats, logits=np.zeros((4, 10)))
    with pytest.raises(InputError, match="logits"):
        load_precomputed(tmp_path / "bad.npz")
    np.save(tmp_path / "plain.npy", feats)
    assert load_precomputed(tmp_path / "plain.npy").logits is None
