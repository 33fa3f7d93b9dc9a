"""Weights: download (file:// URLs of test-made files, never the network), SHA-256 checks, offline mode."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest
import torch

from genlens.errors import WeightsError
from genlens.features import get_extractor
from genlens.features import weights as W


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "no-hub"))  # hermetic: ignore real copies
    return tmp_path / "cache" / "weights"


@pytest.fixture
def weights_file(tmp_path: Path) -> Path:
    path = tmp_path / "served" / "tiny.pth"
    path.parent.mkdir()
    torch.save({"w": torch.arange(6.0).view(2, 3)}, path)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_verifies_and_caches(cache: Path, weights_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENLENS_OFFLINE", "0")
    spec = W.WeightsSpec("tiny", weights_file.as_uri(), "tiny.pth", sha256=_sha(weights_file))
    path = W.fetch(spec)
    assert path == cache / "tiny.pth" and path.read_bytes() == weights_file.read_bytes()
    assert torch.equal(W.load_state_dict(path)["w"], torch.arange(6.0).view(2, 3))
    # cached: a second fetch does not download
    monkeypatch.setattr(W, "download", lambda *a: pytest.fail("downloaded twice"))
    assert W.fetch(spec) == path


def test_download_with_wrong_hash_is_refused_and_not_kept(cache: Path, weights_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLENS_OFFLINE", "0")
    spec = W.WeightsSpec("tiny", weights_file.as_uri(), "tiny.pth", sha256="0" * 64)
    with pytest.raises(WeightsError, match="refusing to load"):
        W.fetch(spec)
    assert not cache.exists() or not any(cache.iterdir()), "a refused download must leave nothing behind"


def test_prefix_in_file_name_is_checked(cache: Path, weights_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLENS_OFFLINE", "0")
    good = W.WeightsSpec("tiny", weights_file.as_uri(), f"tiny-{_sha(weights_file)[:8]}.pth")
    assert good.check.startswith("sha256-prefix:")
    assert W.fetch(good).exists()
    bad = W.WeightsSpec("tiny", weights_file.as_uri(), "tiny-6726825d.pth")
    with pytest.raises(WeightsError, match="does not match"):
        W.fetch(bad)


def test_offline_missing_file_names_url_and_path(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLENS_OFFLINE", "1")
    monkeypatch.setattr(W, "download", lambda *a: pytest.fail("must not download offline"))
    spec = W.KNOWN_WEIGHTS["fid-inception-v3"]
    with pytest.raises(WeightsError) as err:
        get_extractor("inception-v3-fid", device="cpu")
    message = str(err.value)
    assert spec.url in message and str(cache / spec.filename) in message


def test_mismatching_cached_inception_file_is_refused_not_loaded(cache: Path, monkeypatch) -> None:
    """A file placed by hand under the FID name whose SHA-256 does not start with 6726825d is refused."""
    cache.mkdir(parents=True)
    target = cache / W.KNOWN_WEIGHTS["fid-inception-v3"].filename
    torch.save({"not": torch.zeros(1)}, target)
    monkeypatch.setattr(W.torch, "load", lambda *a, **k: pytest.fail("a refused file was loaded"))
    with pytest.raises(WeightsError, match="refusing to load"):
        get_extractor("inception-v3-fid", device="cpu")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_code_and_truncated_files_are_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(WeightsError, match="cannot load"):
        W.load_state_dict(evil)
    good = tmp_path / "good.pth"
    torch.save({"w": torch.zeros(1000)}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(WeightsError, match="cannot load"):
        W.load_state_dict(truncated)
    with pytest.raises(WeightsError, match="no such checkpoint file"):
        W.load_state_dict(tmp_path / "missing.pth")


def test_torchvision_specs_carry_the_hash_prefix() -> None:
    spec = W.torchvision_weights_spec("resnet18")
    assert spec.url.startswith("https://download.pytorch.org/") and spec.sha256_prefix
    assert spec.filename.endswith(".pth")


def test_torchvision_default_weights_offline_is_a_clear_error(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLENS_OFFLINE", "1")
    with pytest.raises(WeightsError, match="resnet18"):
        get_extractor("torchvision:resnet18", device="cpu")


def test_torchvision_default_weights_are_fetched_checked_and_loaded(cache: Path, tmp_path: Path, monkeypatch) -> None:
    """The 'default' path end to end, with a test-made file standing in for torchvision's download."""
    import torchvision

    from genlens.features import torchvision_models as TV

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    served = tmp_path / "resnet18-test.pth"
    torch.save(model.state_dict(), served)
    spec = W.WeightsSpec("torchvision:resnet18", served.as_uri(), "resnet18-test.pth", sha256=_sha(served))
    monkeypatch.setattr(TV, "torchvision_weights_spec", lambda arch: spec)
    monkeypatch.setenv("GENLENS_OFFLINE", "0")
    ext = get_extractor("torchvision:resnet18:fc", device="cpu", input_size=32)
    assert (cache / "resnet18-test.pth").exists() and ext.describe()["weights_sha256"] == spec.sha256
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    mean, std = torch.tensor(TV.IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(TV.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model((images.float() / 255 - mean) / std)
    torch.testing.assert_close(ext(images)["fc"], expected, atol=1e-5, rtol=1e-5)


def test_a_torch_hub_copy_is_reused_after_its_check(cache: Path, tmp_path: Path, weights_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("GENLENS_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # after the fixture's patch
    name = f"tiny-{_sha(weights_file)[:8]}.pth"
    hub_file = tmp_path / "hub" / "checkpoints" / name
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(weights_file.read_bytes())
    assert W.fetch(W.WeightsSpec("tiny", "https://example.invalid/" + name, name)) == hub_file
    wrong = tmp_path / "hub" / "checkpoints" / "tiny-00000000.pth"
    wrong.write_bytes(weights_file.read_bytes())
    with pytest.raises(WeightsError, match="refusing"):
        W.fetch(W.WeightsSpec("tiny", "https://example.invalid/x", "tiny-00000000.pth"))
