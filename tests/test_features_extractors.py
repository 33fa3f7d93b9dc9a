"""The extractor registry: pixels, torchvision hooks, random-vgg16, TorchScript, precomputed arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from genlens.errors import ConfigError, InputError, WeightsError
from genlens.features import get_extractor, load_precomputed
from genlens.features.torchvision_models import IMAGENET_MEAN, IMAGENET_STD
from genlens.io.preprocess import resize_uint8


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _imagenet(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x.float() / 255.0 - mean) / std


def test_pixels_are_the_scaled_images(images: torch.Tensor) -> None:
    out = get_extractor("pixels", device="cpu")(images)["pixels"]
    torch.testing.assert_close(out, images.flatten(1).float() / 255.0)
    small = get_extractor("pixels", device="cpu", size=16)
    assert small.dim == 3 * 16 * 16
    torch.testing.assert_close(small(images)["pixels"], resize_uint8(images, (16, 16)).flatten(1).float() / 255.0)


def test_torchvision_hooks_read_the_named_layers(images: torch.Tensor) -> None:
    ext = get_extractor("torchvision:resnet18:layer2,layer3", device="cpu", weights="random", seed=3, input_size=64)
    out = ext(images)
    torch.manual_seed(3)
    model = torchvision.models.resnet18(weights=None).eval()
    x = _imagenet(resize_uint8(images, (64, 64)))
    with torch.no_grad():
        h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        l2 = model.layer2(model.layer1(h))
        l3 = model.layer3(l2)
    torch.testing.assert_close(out["layer2"], l2.mean(dim=(2, 3)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["layer3"], l3.mean(dim=(2, 3)), atol=1e-5, rtol=1e-5)
    spatial = get_extractor("torchvision:resnet18:layer3", device="cpu", weights="random", seed=3, input_size=64, spatial=True)
    # Channels-last kernels sum in another order than the hooked forward: ~1e-5 apart on some CPUs.
    torch.testing.assert_close(spatial(images)["layer3"], l3, atol=5e-5, rtol=1e-5)
    # no layer: the input of the last Linear, i.e. the pooled pre-logit features
    pre = get_extractor("torchvision:resnet18", device="cpu", weights="random", seed=3, input_size=64)
    with torch.no_grad():
        expected = torch.flatten(model.avgpool(model.layer4(l3)), 1)
    torch.testing.assert_close(pre(images)["pre_logits"], expected, atol=1e-5, rtol=1e-5)
    assert pre.outputs == ("pre_logits",) and pre.dim == 512


def test_torchvision_weights_from_a_file(images: torch.Tensor, tmp_path: Path) -> None:
    torch.manual_seed(7)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    path = tmp_path / "r18.pth"
    torch.save(model.state_dict(), path)
    ext = get_extractor("torchvision:resnet18:fc", device="cpu", weights=str(path), input_size=32)
    with torch.no_grad():
        expected = model(_imagenet(images))
    torch.testing.assert_close(ext(images)["fc"], expected, atol=1e-5, rtol=1e-5)
    assert ext.describe()["weights_sha256"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()


def test_unknown_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown feature extractor"):
        get_extractor("inceptionv3", device="cpu")
    with pytest.raises(ConfigError, match="unknown torchvision architecture"):
        get_extractor("torchvision:resnet999", device="cpu")
    with pytest.raises(ConfigError, match="no module"):
        get_extractor("torchvision:resnet18:layer9", device="cpu", weights="random")
    with pytest.raises(ConfigError, match="load_precomputed"):
        get_extractor("precomputed")
    with pytest.raises(InputError, match="uint8"):
        get_extractor("pixels", device="cpu")(torch.rand(1, 3, 4, 4))


@pytest.mark.slow
def test_random_vgg16_is_seeded_fc2_relu(images: torch.Tensor) -> None:
    a = get_extractor("random-vgg16", device="cpu", input_size=32)
    b = get_extractor("random-vgg16", device="cpu", input_size=32)
    c = get_extractor("random-vgg16", device="cpu", input_size=32, seed=1)
    fa = a(images)["classifier.4"]
    assert fa.shape == (4, 4096) and a.dim == 4096 and (fa >= 0).all()  # after the ReLU
    torch.testing.assert_close(fa, b(images)["classifier.4"], rtol=0, atol=0)
    assert not torch.allclose(fa, c(images)["classifier.4"])
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_torchscript_module(images: torch.Tensor, tmp_path: Path) -> None:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 6, 3)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            y = self.conv(x)
            return {"map": y, "pooled": y.mean(dim=(2, 3))}

    torch.manual_seed(0)
    net = Net().eval()
    path = tmp_path / "net.pt"
    torch.jit.script(net).save(str(path))
    ext = get_extractor(f"torchscript:{path}", device="cpu", input_size=32, value_range=(-1, 1))
    assert ext.outputs == ("map", "pooled")
    with torch.no_grad():
        expected = net(images.float() / 127.5 - 1)
    out = ext(images)
    torch.testing.assert_close(out["pooled"], expected["pooled"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["map"], expected["map"], atol=1e-5, rtol=1e-5)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(WeightsError, match="TorchScript"):
        get_extractor(f"torchscript:{junk}", device="cpu")


def test_load_precomputed(tmp_path: Path) -> None:
    feats = np.random.default_rng(0).normal(size=(20, 7)).astype(np.float32)
    np.save(tmp_path / "f.npy", feats)
    np.testing.assert_array_equal(load_precomputed(tmp_path / "f.npy"), feats.astype(np.float64))
    np.savez(tmp_path / "f.npz", features=feats, other=feats[:, :2])
    assert load_precomputed(tmp_path / "f.npz").shape == (20, 7)
    assert load_precomputed(tmp_path / "f.npz", key="other").shape == (20, 2)
    bad = feats.copy()
    bad[5, 3] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(InputError, match="row 5"):
        load_precomputed(tmp_path / "bad.npy")
    np.save(tmp_path / "flat.npy", feats.ravel())
    with pytest.raises(InputError, match=r"\(n, d\)"):
        load_precomputed(tmp_path / "flat.npy")
    with pytest.raises(InputError, match="no such file"):
        load_precomputed(tmp_path / "missing.npy")


def test_module_extractor_aliases_and_normalisation(images: torch.Tensor) -> None:
    from genlens.features.torchvision_models import ModuleExtractor

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(inplace=True), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    signed = ((0.5,) * 3, (0.5,) * 3)
    ext = ModuleExtractor(net, "0,4", name="tiny", weights={"weights": "test"}, input_size=None, mean_std=signed,
                          aliases={"4": "logits"}, device="cpu")
    assert ext.outputs == ("0", "logits")
    x = images.float() / 127.5 - 1
    with torch.no_grad():
        conv = net[0](x)
        expected_logits = net(x)
    out = ext(images)
    # the conv output is read before the inplace ReLU overwrites it
    torch.testing.assert_close(out["0"], conv.mean(dim=(2, 3)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["logits"], expected_logits, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_zoo_classifier_features_are_its_embedding(images: torch.Tensor) -> None:
    from genlens.zoo.models import classifier

    ext = get_extractor("zoo-classifier", device="cpu", size=32, quick=True)
    model = classifier(size=32, quick=True).eval()
    with torch.no_grad():
        expected = model.embed(images)
        logits = model(images)
    out = ext(images)
    torch.testing.assert_close(out["features"], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["logits"], logits, atol=1e-5, rtol=1e-5)
