"""Dataset/DataLoader and generator sources, ``open_source`` dispatch, and the resize policy."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from genlens.errors import InputError
from genlens.io import DatasetSource, GeneratorSource, Preprocess, open_source, resize_uint8


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randint(0, 256, (10, 3, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_dataset_of_float_tuples_and_sequential_loader(images: torch.Tensor) -> None:
    dataset = TensorDataset(images.float() / 255.0, torch.arange(10))  # ToTensor-style floats with labels
    src = DatasetSource(dataset)
    assert src.describe()["value_range"] == [0.0, 1.0] and src.describe()["value_range_source"] == "detected"
    assert torch.equal(src.read_all(), images) and torch.equal(src.read(3, 7), images[3:7])
    loader_src = open_source(DataLoader(TensorDataset(images.float() / 127.5 - 1.0), batch_size=4))
    assert torch.equal(loader_src.read_all(), images)
    assert src.fingerprint() == DatasetSource(TensorDataset(images)).fingerprint()  # content, not container


def test_shuffling_loader_and_nan_items_are_refused(images: torch.Tensor) -> None:
    with pytest.raises(InputError, match="shuffle=False"):
        DatasetSource(DataLoader(TensorDataset(images), shuffle=True))
    bad = images.float() / 255.0
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN or Inf"):
        DatasetSource(TensorDataset(bad))
    with pytest.raises(InputError, match="empty"):
        DatasetSource(TensorDataset(images[:0]))


def test_generator_is_deterministic_however_batched() -> None:
    weight = torch.randn(8, 3 * 4 * 4, generator=torch.Generator().manual_seed(1))

    def fn(z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z @ weight).view(-1, 3, 4, 4)

    a = GeneratorSource(fn, latent_dim=8, n=2100, seed=5, batch_size=7)
    b = GeneratorSource(fn, latent_dim=8, n=2100, seed=5, batch_size=500)
    full = a.read_all()
    assert full.shape == (2100, 3, 4, 4) and full.dtype == torch.uint8
    assert torch.equal(full, b.read_all())
    assert torch.equal(a.read(1020, 1030), full[1020:1030])  # across a latent-block boundary, resumed mid-way
    assert torch.equal(GeneratorSource(fn, 8, n=50, seed=5).read_all(), full[:50])  # image i depends on (seed, i)
    z = a.latents(0, 2100)
    expected = torch.round((torch.tanh(z @ weight).view(-1, 3, 4, 4).double() + 1) * 127.5).to(torch.uint8)
    assert torch.equal(full, expected)
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02  # z ~ N(0, I)
    other = GeneratorSource(fn, 8, n=2100, seed=6)
    assert not torch.equal(other.read(0, 10), full[:10]) and other.fingerprint() != a.fingerprint()


def test_generator_module_fingerprint_tracks_weights() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 3 * 2 * 2), torch.nn.Tanh(), torch.nn.Unflatten(1, (3, 2, 2)))
    first = GeneratorSource(net, 4, n=5).fingerprint()
    assert GeneratorSource(net, 4, n=5).fingerprint() == first
    with torch.no_grad():
        net[0].bias.add_(0.1)
    assert GeneratorSource(net, 4, n=5).fingerprint() != first


def test_generator_nan_output_is_refused() -> None:
    with pytest.raises(InputError, match="NaN or Inf"):
        GeneratorSource(lambda z: torch.full((z.shape[0], 3, 2, 2), float("nan")), 4, n=3)


def test_zoo_specs_are_delegated(monkeypatch: pytest.MonkeyPatch, images: torch.Tensor) -> None:
    from genlens.plugins import load_plugins

    load_plugins()  # the zoo's plugin registers ``zoo:``; its opener imports genlens.zoo.sources on each use
    calls = []
    fake = types.ModuleType("genlens.zoo.sources")
    fake.open_zoo_spec = lambda spec: calls.append(spec) or "zoo-source"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "genlens.zoo.sources", fake)
    assert open_source("zoo:blur_region?n=10") == "zoo-source" and calls == ["zoo:blur_region?n=10"]
    assert open_source(images).read_all().equal(images)
    with pytest.raises(InputError, match="cannot read images from"):
        open_source(42)


def test_resize_policy_is_pil_bicubic_and_antialiased() -> None:
    # a one-pixel checkerboard: an aliasing resizer turns it into a flat 0 or 255 image
    board = ((np.indices((64, 64)).sum(axis=0) % 2) * 255).astype(np.uint8)
    batch = torch.from_numpy(np.repeat(board[None, None], 3, axis=1))
    small = resize_uint8(batch, (16, 16))
    assert abs(float(small.float().mean()) - 127.5) < 2 and int(small.max()) - int(small.min()) <= 4
    aliased = torch.nn.functional.interpolate(batch.float(), size=(16, 16), mode="nearest")
    assert abs(float(aliased.mean()) - 127.5) > 100  # what the policy avoids: a flat black or white image
    pil = np.asarray(Image.fromarray(board).resize((16, 16), Image.Resampling.BICUBIC))
    assert np.array_equal(small[0, 0].numpy(), pil)
    assert resize_uint8(batch, (64, 64)) is batch  # same size: untouched
    with pytest.raises(InputError, match="uint8"):
        resize_uint8(batch.float(), (8, 8))


def test_preprocess_records_its_policy() -> None:
    gray = torch.randint(0, 256, (2, 1, 10, 10), dtype=torch.uint8)
    out = Preprocess(size=(5, 5)).apply(gray)
    assert out.shape == (2, 3, 5, 5)
    record = Preprocess(size=(5, 5)).to_dict()
    assert record["size"] == [5, 5] and "bicubic" in record["resize"] and "alpha dropped" in record["rgb"]
    assert Preprocess().to_dict()["resize"] == "none"
