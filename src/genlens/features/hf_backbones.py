"""DINOv2 and CLIP image encoders (Hugging Face ``transformers`` implementations) as feature extractors.

Names follow dgm-eval / torch-fidelity usage: ``dinov2-vits14``, ``dinov2-vitb14``, ``dinov2-vitl14``,
``dinov2-vitg14``, ``clip-vit-b32``, ``clip-vit-b16``, ``clip-vit-l14``.

Weights: the official repos' ``model.safetensors`` (facebook/dinov2-*, openai/clip-vit-*), fetched, cached
and checked by :mod:`genlens.features.weights` (offline mode included), or a local file via ``weights=PATH``.
The architecture numbers are written here, so only the weights file is needed -- no ``config.json``, no hub
client. Files are read with ``safetensors`` (tensors only, never pickle). No full SHA-256 of these files is
recorded yet, so a downloaded file is checked for format and fit (every tensor the model needs, right
shapes); pin a digest (or a mirror URL) with ``weights=WeightsSpec(..., sha256=...)``.

Preprocessing: the project resize (PIL bicubic, antialiased; no centre crop) to 224x224, then ImageNet
mean/std for DINOv2 and CLIP's own mean/std for CLIP. Outputs: DINOv2 -- the CLS token after the final
layer norm (``cls``; dgm-eval's convention); CLIP -- the projected image embedding (``embedding``, not
L2-normalised; what ``CLIPModel.get_image_features`` returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlens._hashing import sha256_file
from genlens.errors import ConfigError, WeightsError
from genlens.features.base import FeatureExtractor
from genlens.features.torchvision_models import IMAGENET_MEAN, IMAGENET_STD
from genlens.features.weights import WeightsSpec, fetch, load_into
from genlens.io.preprocess import Preprocess

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
INPUT_SIZE = 224


@dataclass(frozen=True)
class Backbone:
    """One pretrained encoder: its family, architecture numbers and weights file."""

    name: str
    family: str  # "dinov2" or "clip"
    config: dict[str, Any]
    weights: WeightsSpec


def _hf_spec(name: str, repo: str, sha256: str | None = None) -> WeightsSpec:
    # Every repo calls its file model.safetensors, so the cached copy is named after the repo.
    return WeightsSpec(
        name=name,
        url=f"https://huggingface.co/{repo}/resolve/main/model.safetensors",
        filename=f"{repo.replace('/', '--')}--model.safetensors",
        sha256=sha256,
    )


def _dinov2(name: str, repo: str, hidden: int, layers: int, heads: int, swiglu: bool = False) -> Backbone:
    config = {
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads, "mlp_ratio": 4,
        "patch_size": 14, "image_size": 518, "layer_norm_eps": 1e-6, "layerscale_value": 1.0,
        "use_swiglu_ffn": swiglu, "qkv_bias": True, "hidden_act": "gelu",
    }  # fmt: skip
    return Backbone(name, "dinov2", config, _hf_spec(name, repo))


def _clip(name: str, repo: str, hidden: int, layers: int, heads: int, patch: int, projection: int) -> Backbone:
    config = {
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": 4 * hidden, "patch_size": patch, "image_size": 224, "projection_dim": projection,
        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
    }  # fmt: skip
    return Backbone(name, "clip", config, _hf_spec(name, repo))


#: The known backbones (public architecture numbers of the official checkpoints).
BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        _dinov2("dinov2-vits14", "facebook/dinov2-small", 384, 12, 6),
        _dinov2("dinov2-vitb14", "facebook/dinov2-base", 768, 12, 12),
        _dinov2("dinov2-vitl14", "facebook/dinov2-large", 1024, 24, 16),
        _dinov2("dinov2-vitg14", "facebook/dinov2-giant", 1536, 40, 24, swiglu=True),
        _clip("clip-vit-b32", "openai/clip-vit-base-patch32", 768, 12, 12, 32, 512),
        _clip("clip-vit-b16", "openai/clip-vit-base-patch16", 768, 12, 12, 16, 512),
        _clip("clip-vit-l14", "openai/clip-vit-large-patch14", 1024, 24, 16, 14, 768),
    )
}


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ConfigError(
            "DINOv2 and CLIP extractors need the 'transformers' package: pip install 'transformers>=4.40'"
        ) from None
    return transformers


def build_model(backbone: Backbone, overrides: dict[str, Any] | None = None) -> torch.nn.Module:
    """The ``transformers`` encoder for ``backbone`` (random weights); ``overrides`` change config values."""
    tf = _transformers()
    values = {**backbone.config, **(overrides or {})}
    if backbone.family == "dinov2":
        return tf.Dinov2Model(tf.Dinov2Config(**values))
    return tf.CLIPVisionModelWithProjection(tf.CLIPVisionConfig(**values))


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a ``.safetensors`` file on CPU, with a :class:`WeightsError` for anything unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"cannot read {path} as a safetensors file: {err}") from None


def select_state(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The entries ``model`` needs: a full CLIP checkpoint also holds the text tower, which is dropped.

    A ``dinov2.`` prefix (checkpoints saved from a task head) is stripped. Missing or misshapen tensors
    are reported by :func:`~genlens.features.weights.load_into`.
    """
    wanted = model.state_dict().keys()
    stripped = {k.removeprefix("dinov2."): v for k, v in tensors.items()}
    return {k: v for k, v in stripped.items() if k in wanted}


class HFBackboneExtractor(FeatureExtractor):
    """A DINOv2 (``cls``) or CLIP (``embedding``) encoder; see the module docstring.

    ``weights``: ``None``/``"default"`` fetches the official file (cached, offline-aware); a
    :class:`WeightsSpec` fetches and checks that file instead; a path loads that ``.safetensors`` file.
    ``config`` overrides architecture values (tests use tiny configs); ``input_size`` is the side images
    are resized to (CLIP needs its config's ``image_size``; DINOv2 interpolates its position grid).
    """

    def __init__(
        self,
        name: str,
        weights: str | Path | WeightsSpec | None = None,
        config: dict[str, Any] | None = None,
        input_size: int = INPUT_SIZE,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float32",
    ) -> None:
        if name not in BACKBONES:
            raise ConfigError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
        backbone = BACKBONES[name]
        super().__init__(Preprocess(size=(input_size, input_size)), device=device, dtype=dtype)
        self.name = name
        self.family = backbone.family
        self.outputs = ("cls",) if self.family == "dinov2" else ("embedding",)
        self._overrides = dict(config or {})
        image_size = {**backbone.config, **self._overrides}["image_size"]
        if self.family == "clip" and input_size != image_size:
            raise ConfigError(f"{name} takes {image_size}x{image_size} images; got input_size={input_size}")
        default = weights is None or weights == "default"
        if default or isinstance(weights, WeightsSpec):
            path = fetch(backbone.weights if default else weights)
        else:
            path = Path(weights).expanduser()
        model = build_model(backbone, self._overrides)
        load_into(model, select_state(model, read_safetensors(path)), str(path))
        self.model = model.eval().to(device=self.device, dtype=self.dtype)
        kind = "default" if default else "spec" if isinstance(weights, WeightsSpec) else "file"
        self._record = {"weights": kind, "weights_sha256": sha256_file(path)}
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if self.family == "dinov2" else (CLIP_MEAN, CLIP_STD)
        self._normalise = {"mean": list(mean), "std": list(std)}
        self._mean = torch.tensor(mean, device=self.device, dtype=self.dtype).view(1, 3, 1, 1)
        self._std = torch.tensor(std, device=self.device, dtype=self.dtype).view(1, 3, 1, 1)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (already resized) -> the float input the encoder was trained on."""
        return (images.to(self.dtype) / 255.0 - self._mean) / self._std

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        pixels = self.normalise(images)
        if self.family == "dinov2":
            return {"cls": self.model(pixel_values=pixels).pooler_output}
        return {"embedding": self.model(pixel_values=pixels).image_embeds}

    def weights_id(self) -> dict[str, Any]:
        return {**self._record, "config_overrides": self._overrides, "normalise": self._normalise}

