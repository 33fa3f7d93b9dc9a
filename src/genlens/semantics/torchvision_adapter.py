"""torchvision's Pascal VOC segmenters (DeepLabV3, FCN, LR-ASPP) behind the ``Segmenter`` protocol.

Weights come through :mod:`genlens.features.weights` (cache, SHA-256 check, offline mode), never through
torch.hub. The adapter reproduces torchvision's own evaluation transform -- short side resized to 520,
ImageNet mean/std -- except that the resize follows genlens' one policy (PIL bicubic on uint8), and
the logits are upsampled back to the input size before the argmax, so the output has one label per
input pixel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genlens._device import resolve_device
from genlens.errors import ConfigError
from genlens.features import weights as weights_module

ARCHS = (
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "deeplabv3_mobilenet_v3_large",
    "fcn_resnet50",
    "fcn_resnet101",
    "lraspp_mobilenet_v3_large",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def voc_classes(arch: str) -> list[str]:
    """The 21 class names torchvision's VOC weights predict (``__background__`` first)."""
    import torchvision

    return list(torchvision.models.get_model_weights(arch).DEFAULT.meta["categories"])


def build_model(arch: str, n_classes: int = 21) -> torch.nn.Module:
    """The architecture with random weights, laid out like torchvision's pretrained state dicts."""
    import torchvision

    if arch not in ARCHS:
        raise ConfigError(f"unknown torchvision segmenter {arch!r}; choose one of {list(ARCHS)}")
    kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None, "num_classes": n_classes}
    if not arch.startswith("lraspp"):
        kwargs["aux_loss"] = True  # the published checkpoints include the auxiliary head
    return torchvision.models.get_model(arch, **kwargs)


class TorchvisionSegmenter:
    """A torchvision segmentation model; ``weights`` is ``"default"`` (VOC, via the weights table) or a path."""

    def __init__(
        self,
        arch: str,
        weights: str | Path = "default",
        device: str | None = None,
        resize: int | None = 520,
        batch_size: int = 8,
    ) -> None:
        self.arch = arch
        self.classes = voc_classes(arch) if arch in ARCHS else []
        model = build_model(arch, len(self.classes))
        if str(weights) == "default":
            spec = weights_module.torchvision_weights_spec(arch)
            path = weights_module.fetch(spec)
            self.weights_info: dict[str, Any] = {"weights": spec.name, "check": spec.check}
        else:
            path = Path(weights).expanduser()
            self.weights_info = {"weights": str(path), "check": "none (user file)"}
        weights_module.load_into(model, weights_module.load_state_dict(path), str(path))
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.resize = resize
        self.batch_size = batch_size
        self.name = f"torchvision:{arch}"
        self.ignore_index = None

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        from genlens.io.preprocess import resize_uint8

        if self.resize is not None:
            h, w = images.shape[-2:]
            scale = self.resize / min(h, w)
            images = resize_uint8(images, (round(h * scale), round(w * scale)))
        x = images.to(self.device, torch.float32) / 255.0
        mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, 21, H, W)`` at the input's size."""
        out = []
        for lo in range(0, images.shape[0], self.batch_size):
            x = self._prepare(images[lo : lo + self.batch_size])
            y = self.model(x)["out"]
            out.append(F.interpolate(y, size=images.shape[-2:], mode="bilinear", align_corners=False).cpu())
        return torch.cat(out)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Class ids ``(B, H, W)``, one ``batch_size`` at a time: the float logits of a whole batch at the
        input's size would be 21 x 4 bytes a pixel (5.6 GB for 64 images of 1024 px), the ids 8."""
        step = self.batch_size
        return torch.cat([self.logits(images[lo : lo + step]).argmax(1) for lo in range(0, images.shape[0], step)])
