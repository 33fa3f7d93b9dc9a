"""Segmenter adapters: torchvision via the project's weights loader, factories, HF, the registry."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from genlens._hashing import sha256_file
from genlens.errors import ConfigError, WeightsError
from genlens.features import weights as weights_module
from genlens.semantics import get_segmenter
from genlens.semantics.segmenter import segment_batch
from genlens.semantics.torchvision_adapter import IMAGENET_MEAN, IMAGENET_STD, TorchvisionSegmenter, build_model

ARCH = "lraspp_mobilenet_v3_large"  # the smallest of torchvision's VOC segmenters


@pytest.fixture
def random_weights(tmp_path):
    """A test-created random state dict of the architecture, saved like a downloaded checkpoint."""
    torch.manual_seed(0)
    model = build_model(ARCH).eval()
    path = tmp_path / "lraspp-random.pth"
    torch.save(model.state_dict(), path)
    return model, path


def reference_labels(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Plain torchvision inference with ImageNet normalisation, written out independently."""
    x = images.float() / 255.0
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        out = model(x)["out"]
    return torch.nn.functional.interpolate(out, size=images.shape[-2:], mode="bilinear").argmax(1)


def test_torchvision_default_weights_go_through_the_weights_loader(random_weights, tmp_path, monkeypatch):
    model, path = random_weights
    spec = weights_module.WeightsSpec(
        name=f"torchvision:{ARCH}", url=path.as_uri(), filename="lraspp-test.pth", sha256=sha256_file(path)
    )
    monkeypatch.setattr(weights_module, "torchvision_weights_spec", lambda arch: spec)
    monkeypatch.setenv("GENLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GENLENS_OFFLINE", "0")
    seg = get_segmenter(f"torchvision:{ARCH}", device="cpu", resize=None)
    assert (tmp_path / "cache" / "weights" / "lraspp-test.pth").exists()  # fetched (file://) and verified
    assert len(seg.classes) == 21 and seg.classes[0] == "__background__"
    images = torch.randint(0, 256, (3, 3, 64, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    labels = segment_batch(seg, images)
    assert labels.shape == (3, 64, 48)
    torch.testing.assert_close(labels, reference_labels(model, images))


def test_torchvision_refuses_a_file_that_fails_its_hash(random_weights, tmp_path, monkeypatch):
    _, path = random_weights
    spec = weights_module.WeightsSpec(name="x", url=path.as_uri(), filename="lraspp-bad.pth", sha256="0" * 64)
    monkeypatch.setattr(weights_module, "torchvision_weights_spec", lambda arch: spec)
    monkeypatch.setenv("GENLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GENLENS_OFFLINE", "0")
    with pytest.raises(WeightsError, match="refusing"):
        TorchvisionSegmenter(ARCH)


def test_torchvision_offline_names_the_file_to_place(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GENLENS_OFFLINE", "1")
    with pytest.raises(WeightsError, match="GENLENS_OFFLINE"):
        get_segmenter("deeplabv3")


def test_torchvision_user_weights_file_and_resize(random_weights):
    model, path = random_weights
    seg = TorchvisionSegmenter(ARCH, weights=path, device="cpu", resize=40)
    images = torch.randint(0, 256, (2, 3, 20, 20), dtype=torch.uint8)
    labels = seg(images)
    assert labels.shape == (2, 20, 20) and labels.dtype == torch.int64


def test_factory_segmenters(monkeypatch):
    module = types.ModuleType("my_segmenters")

    def pair_factory(threshold: int = 128):
        return (lambda x: (x[:, 0] > threshold).long(), ["dark", "bright"])

    module.pair_factory = pair_factory
    monkeypatch.setitem(sys.modules, "my_segmenters", module)
    seg = get_segmenter("my_segmenters:pair_factory", threshold=10)
    out = segment_batch(seg, torch.full((1, 3, 2, 2), 20, dtype=torch.uint8))
    assert seg.classes == ["dark", "bright"] and out.eq(1).all()
    with pytest.raises(ConfigError, match="no attribute"):
        get_segmenter("my_segmenters:missing")
    with pytest.raises(ConfigError, match="cannot import"):
        get_segmenter("no_such_module_xyz:factory")
    with pytest.raises(ConfigError, match="unknown segmenter"):
        get_segmenter("nonsense")


def test_hf_adapter_without_transformers_is_a_clear_error(monkeypatch):
    """transformers is optional: without it a clear ConfigError; with it, missing local files -> WeightsError."""
    try:
        import transformers  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="transformers"):
            get_segmenter("hf:/nonexistent/segformer")
    else:
        with pytest.raises(WeightsError, match="local files"):
            get_segmenter("hf:/nonexistent/segformer")


def test_zoo_segmenter_name_builds_the_zoo_model(monkeypatch):
    """The registry forwards to genlens.zoo.models.scene_segmenter (stubbed: training is tested elsewhere)."""
    from genlens.zoo import models

    seen = {}

    def fake(size, quick, device=None):
        seen.update(size=size, quick=quick)
        return types.SimpleNamespace(classes=("a",), __call__=None)

    monkeypatch.setattr(models, "segmenter", fake, raising=False)
    get_segmenter("zoo-quick", size=32)
    assert seen == {"size": 32, "quick": True}
