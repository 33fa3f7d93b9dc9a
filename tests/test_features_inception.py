"""Our ``inception-v3-fid`` against pytorch-fid's ``InceptionV3``, both loaded with one random state dict.

pytorch-fid's ``fid_inception_v3`` builds the reference architecture and loads weights from a URL; the
URL loader is replaced by one returning our test-made weights, so nothing is downloaded. Batch-norm
statistics are calibrated on random inputs so activations stay O(1) through all 90+ layers -- otherwise
features would shrink towards zero and a tolerance of 1e-4 would prove nothing.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
import torchvision

pfi = pytest.importorskip("pytorch_fid.inception")

from genlens.errors import WeightsError  # noqa: E402
from genlens.features import get_extractor  # noqa: E402
from genlens.io.preprocess import resize_uint8  # noqa: E402


@pytest.fixture(scope="module")
def fid_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random state dict in pytorch-fid's FID-Inception layout, with calibrated batch-norm statistics."""
    torch.manual_seed(0)
    noop_load = mock.patch.object(torchvision.models.inception.Inception3, "load_state_dict", lambda *a, **k: None)
    with noop_load, mock.patch.object(pfi, "load_state_dict_from_url", return_value={}):
        net = pfi.fid_inception_v3()
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration pass
        torch.nn.init.uniform_(bn.weight, 0.5, 1.5)
        torch.nn.init.uniform_(bn.bias, -0.2, 0.2)
    net.train()
    with torch.no_grad():
        net(torch.rand(4, 3, 299, 299) * 2 - 1)
    path = tmp_path_factory.mktemp("weights") / "fid_random.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def reference(fid_weights: Path) -> torch.nn.Module:
    state = torch.load(fid_weights, weights_only=True)
    with mock.patch.object(pfi, "load_state_dict_from_url", return_value=state):
        return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=False).eval()


@pytest.fixture(scope="module")
def ours(fid_weights: Path):
    return get_extractor("inception-v3-fid", device="cpu", weights=fid_weights)


def test_same_float_input_gives_same_pool_features(ours, reference) -> None:
    x01 = torch.rand(3, 3, 299, 299, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = reference(x01)[0].flatten(1)
        mine = ours.network(x01)["pool"]
    assert theirs.abs().mean() > 0.05, "calibration failed: features too small for the comparison to mean much"
    torch.testing.assert_close(mine, theirs, atol=1e-4, rtol=0)


def test_uint8_path_end_to_end(ours, reference) -> None:
    """uint8 32x32 images: our extractor (PIL-bicubic resize to 299, /255, 2x-1) vs pytorch-fid on the same resized pixels."""
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    resized = resize_uint8(images, (299, 299))
    with torch.no_grad():
        theirs = reference(resized.float() / 255.0)[0].flatten(1)
    out = ours(images)
    torch.testing.assert_close(out["pool"], theirs, atol=1e-4, rtol=2e-5)  # float32 rounding: CPU convs run channels-last
    assert out["pool"].dtype == torch.float32 and out["pool"].shape == (2, 2048)
    # logits are fc(pool); logits_unbiased drop the bias (torch-fidelity's IS input)
    fc = ours.network.fc
    torch.testing.assert_close(out["logits"], fc(out["pool"]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["logits_unbiased"], out["pool"] @ fc.weight.T, atol=1e-5, rtol=1e-5)


def test_float64_matches_reference_to_rounding(fid_weights: Path, ours, reference) -> None:
    """In float64 the two networks agree to ~1e-10: the 1e-4 float32 tolerance above is rounding only."""
    images = torch.randint(0, 256, (2, 3, 299, 299), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    ours64 = get_extractor("inception-v3-fid", device="cpu", weights=fid_weights, dtype="float64")
    assert ours64.fingerprint() != ours.fingerprint()
    with torch.no_grad():
        theirs = reference.double()(images.double() / 255.0)[0].flatten(1)
        mine = ours64.network(images.double() / 255.0)["pool"]
    reference.float()
    torch.testing.assert_close(mine, theirs, atol=1e-9, rtol=0)
    assert ours64(images)["pool"].dtype == torch.float32  # computed in float64, returned as float32


def test_wrong_architecture_weights_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(WeightsError, match="do not fit"):
        get_extractor("inception-v3-fid", device="cpu", weights=path)
