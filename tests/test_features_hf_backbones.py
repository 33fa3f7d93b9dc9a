"""DINOv2 / CLIP extractors against the same ``transformers`` models run directly, with test-made weights.

Tiny random configs are saved as ``.safetensors`` checkpoints in the official layout (CLIP as a *full*
``CLIPModel`` with its text tower, as openai/clip-vit-* ship it) and served through the real fetch code via
``file://`` URLs -- nothing is downloaded. The reference preprocessing is written here from
``transformers``' own mean/std constants and the project resize.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

tf = pytest.importorskip("transformers")
from safetensors.torch import save_file  # noqa: E402
from transformers.utils import constants as tf_constants  # noqa: E402

from genlens.errors import ConfigError, WeightsError  # noqa: E402
from genlens.features import extract_features, get_extractor  # noqa: E402
from genlens.features import hf_backbones as HF  # noqa: E402
from genlens.features import weights as W  # noqa: E402
from genlens.features.weights import WeightsSpec  # noqa: E402
from genlens.io import ArraySource  # noqa: E402
from genlens.io.preprocess import resize_uint8  # noqa: E402

TINY_DINO = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 28}
DINO_INPUT = 42  # 3x3 patches of 14 from 2x2 position embeddings: the interpolation path is exercised
TINY_CLIP_VISION = {
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
    "patch_size": 32, "image_size": 64,
}  # fmt: skip
CLIP_PROJECTION = 24


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(path))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dino_reference(swiglu: bool) -> torch.nn.Module:
    torch.manual_seed(1)
    return tf.Dinov2Model(tf.Dinov2Config(**TINY_DINO, use_swiglu_ffn=swiglu)).eval()


def _clip_reference() -> torch.nn.Module:
    torch.manual_seed(2)
    text = {
        "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "vocab_size": 64, "max_position_embeddings": 8, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1,
    }  # fmt: skip
    config = tf.CLIPConfig(text_config=text, vision_config=TINY_CLIP_VISION, projection_dim=CLIP_PROJECTION)
    return tf.CLIPModel(config).eval()


#: name -> (reference model factory, config overrides, input size, transformers' mean/std constants)
CASES = {
    "dinov2-vits14": (lambda: _dino_reference(False), TINY_DINO, DINO_INPUT, "IMAGENET_DEFAULT"),
    "dinov2-vitg14": (lambda: _dino_reference(True), TINY_DINO, DINO_INPUT, "IMAGENET_DEFAULT"),
    "clip-vit-b32": (_clip_reference, {**TINY_CLIP_VISION, "projection_dim": CLIP_PROJECTION}, 64, "OPENAI_CLIP"),
}


def _reference_features(name: str, model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    _, _, size, constants = CASES[name]
    mean = torch.tensor(getattr(tf_constants, f"{constants}_MEAN")).view(1, 3, 1, 1)
    std = torch.tensor(getattr(tf_constants, f"{constants}_STD")).view(1, 3, 1, 1)
    pixels = (resize_uint8(images, (size, size)).float() / 255.0 - mean) / std
    with torch.no_grad():
        if name.startswith("dinov2"):
            return model(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state[:, 0]
        out = model.get_image_features(pixel_values=pixels)
        return getattr(out, "pooler_output", out)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "no-hub"))
    return tmp_path / "cache" / "weights"


def _serve(name: str, model: torch.nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``name``'s default weights a file:// URL of ``model``'s checkpoint, pinned by its SHA-256."""
    served = _save(model.state_dict(), tmp_path / "served" / f"{name}.safetensors")
    spec = WeightsSpec(name=name, url=served.as_uri(), filename=f"{name}-test.safetensors", sha256=_sha(served))
    monkeypatch.setitem(HF.BACKBONES, name, replace(HF.BACKBONES[name], weights=spec))
    monkeypatch.setenv("GENLENS_OFFLINE", "0")
    return served


@pytest.fixture
def images() -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.integers(0, 256, (5, 3, 37, 45), dtype=np.uint8))


@pytest.mark.parametrize("name", list(CASES))
def test_features_equal_transformers_model_run_directly(name, cache, tmp_path, monkeypatch, images) -> None:
    factory, overrides, size, _ = CASES[name]
    reference = factory()
    _serve(name, reference, tmp_path, monkeypatch)
    extractor = get_extractor(name, device="cpu", config=overrides, input_size=size)
    ours = extractor(images)[extractor.outputs[0]]
    expected = _reference_features(name, reference, images)
    assert ours.shape == expected.shape == (len(images), extractor.dim)
    assert expected.std() > 1e-2, "features too small for the tolerance to mean anything"
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)
    assert (cache / f"{name}-test.safetensors").is_file(), "the fetched file is cached"
    assert extractor.describe()["weights_sha256"] == _sha(cache / f"{name}-test.safetensors")


def test_output_dims_and_names(cache, tmp_path, monkeypatch) -> None:
    _serve("dinov2-vits14", _dino_reference(False), tmp_path, monkeypatch)
    _serve("clip-vit-b32", _clip_reference(), tmp_path, monkeypatch)
    dino = get_extractor("dinov2-vits14", device="cpu", config=TINY_DINO, input_size=DINO_INPUT)
    clip = get_extractor("clip-vit-b32", device="cpu", config=CASES["clip-vit-b32"][1], input_size=64)
    assert (dino.outputs, dino.dim) == (("cls",), TINY_DINO["hidden_size"])
    assert (clip.outputs, clip.dim) == (("embedding",), CLIP_PROJECTION)


def test_base_configs_agree_with_transformers_defaults() -> None:
    """transformers' default configs are ViT-B/14 DINOv2 and ViT-B/32 CLIP: an independent check of our numbers."""
    clip_default = tf.CLIPVisionConfig()
    for key, value in HF.BACKBONES["clip-vit-b32"].config.items():
        assert getattr(clip_default, key) == value, key
    dino_default = tf.Dinov2Config()
    for key, value in HF.BACKBONES["dinov2-vitb14"].config.items():
        if key != "image_size":  # the released checkpoints were trained at 518, the default config says 224
            assert getattr(dino_default, key) == value, key


def test_local_weights_path_and_full_clip_checkpoint(cache, tmp_path, monkeypatch, images) -> None:
    monkeypatch.setenv("GENLENS_OFFLINE", "1")  # a local path never touches the network or the cache
    monkeypatch.setattr(W, "download", lambda *a: pytest.fail("must not download"))
    reference = _clip_reference()
    path = _save(reference.state_dict(), tmp_path / "mine.safetensors")
    overrides = CASES["clip-vit-b32"][1]
    extractor = get_extractor("clip-vit-b32", device="cpu", weights=path, config=overrides, input_size=64)
    torch.testing.assert_close(extractor(images)["embedding"], _reference_features("clip-vit-b32", reference, images),
                               atol=1e-5, rtol=0)  # fmt: skip
    assert extractor.describe()["weights"] == "file"


def test_wrong_sha256_is_refused_and_never_loaded(cache, tmp_path, monkeypatch) -> None:
    name = "dinov2-vits14"
    served = _serve(name, _dino_reference(False), tmp_path, monkeypatch)
    spec = replace(HF.BACKBONES[name].weights, sha256="0" * 64)
    monkeypatch.setattr(HF, "read_safetensors", lambda *a: pytest.fail("a refused file was loaded"))
    with pytest.raises(WeightsError, match="refusing to load"):
        get_extractor(name, device="cpu", weights=spec, config=TINY_DINO)
    assert not cache.exists() or not any(cache.iterdir()), "a refused download must leave nothing behind"
    # a file already in the cache that does not match is refused too
    cache.mkdir(parents=True, exist_ok=True)
    (cache / spec.filename).write_bytes(served.read_bytes())
    with pytest.raises(WeightsError, match="refusing to load"):
        get_extractor(name, device="cpu", weights=spec, config=TINY_DINO)


@pytest.mark.parametrize("name", sorted(HF.BACKBONES))
def test_offline_names_url_and_path(name, cache, monkeypatch) -> None:
    monkeypatch.setenv("GENLENS_OFFLINE", "1")
    monkeypatch.setattr(W, "download", lambda *a: pytest.fail("must not download offline"))
    spec = HF.BACKBONES[name].weights
    assert spec.url.startswith("https://huggingface.co/") and spec.url.endswith("/model.safetensors")
    with pytest.raises(WeightsError) as info:
        get_extractor(name, device="cpu")
    assert spec.url in str(info.value) and str(cache / spec.filename) in str(info.value)


def test_unreadable_or_misfitting_files_are_clear_errors(cache, tmp_path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(WeightsError, match="safetensors"):
        get_extractor("dinov2-vits14", device="cpu", weights=garbage, config=TINY_DINO)
    state = _dino_reference(False).state_dict()
    state.pop("layernorm.weight")
    partial = _save(state, tmp_path / "partial.safetensors")
    with pytest.raises(WeightsError, match="layernorm.weight"):
        get_extractor("dinov2-vits14", device="cpu", weights=partial, config=TINY_DINO)
    with pytest.raises(WeightsError, match="not found"):
        get_extractor("dinov2-vits14", device="cpu", weights=tmp_path / "missing.safetensors", config=TINY_DINO)
    with pytest.raises(ConfigError, match="unknown backbone"):
        get_extractor("dinov2-vitx14")
    with pytest.raises(ConfigError, match="64x64"):
        get_extractor("clip-vit-b32", weights=garbage, config=CASES["clip-vit-b32"][1], input_size=32)


def test_extraction_through_the_cache(cache, tmp_path, monkeypatch, images) -> None:
    reference = _dino_reference(False)
    _serve("dinov2-vits14", reference, tmp_path, monkeypatch)
    extractor = get_extractor("dinov2-vits14", device="cpu", config=TINY_DINO, input_size=DINO_INPUT)
    source = ArraySource(images.numpy())
    first = extract_features(source, extractor, cache_dir=tmp_path / "feats", batch_size=2)
    np.testing.assert_allclose(first, _reference_features("dinov2-vits14", reference, images).numpy(), atol=1e-5)
    monkeypatch.setattr(extractor, "forward", lambda *a: pytest.fail("cached features were recomputed"))
    again = extract_features(source, extractor, cache_dir=tmp_path / "feats", batch_size=2)
    np.testing.assert_array_equal(first, again)


@pytest.mark.slow
def test_real_size_dinov2_vits14_checkpoint_gives_384_d_cls_at_224(cache, tmp_path, monkeypatch) -> None:
    """The full ViT-S/14 architecture (518-px position grid, read at 224 px), random weights in the HF layout."""
    torch.manual_seed(3)
    config = tf.Dinov2Config(**HF.BACKBONES["dinov2-vits14"].config)
    _serve("dinov2-vits14", tf.Dinov2Model(config).eval(), tmp_path, monkeypatch)
    extractor = get_extractor("dinov2-vits14", device="cpu")
    assert extractor.input_size == (224, 224) and extractor.dim == 384
    assert torch.isfinite(extractor(torch.zeros((2, 3, 32, 32), dtype=torch.uint8))["cls"]).all()
