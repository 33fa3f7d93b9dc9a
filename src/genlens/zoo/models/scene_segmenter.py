"""A tiny U-Net that labels every pixel of a world scene with its class.

The semantics view measures which classes a generator over- or under-produces by segmenting its
images; on the world that needs a segmenter that knows the world's classes. :func:`segmenter` returns
a :class:`ZooSegmenter`, which satisfies the view's ``Segmenter`` protocol: call it on a uint8
``(B, 3, H, W)`` batch, get ``(B, H, W)`` int64 class ids; ``classes`` names them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genlens._device import resolve_device
from genlens._seeding import preserved_rng
from genlens._seeding import seeded as deterministic
from genlens.zoo.models._training import (
    TRAIN_SEED_OFFSET,
    as_image_batch,
    balanced_class_weights,
    batched,
    check_size,
    fit_cross_entropy,
    reset_parameters,
    to_signed_unit,
    world_version,
)
from genlens.zoo.models.store import load_or_train

#: Bump when the architecture or the training procedure changes (invalidates cached weights).
VERSION = 1

#: Training recipes. ``quick`` is for tests: well under a minute on one CPU core.
RECIPES: dict[bool, dict[str, Any]] = {
    False: {"n_train": 3000, "epochs": 5, "batch_size": 32, "lr": 4e-3, "width": 16, "weight_power": 0.5},
    True: {"n_train": 1500, "epochs": 4, "batch_size": 32, "lr": 4e-3, "width": 12, "weight_power": 0.5},
}


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyUNet(nn.Module):
    """Two downsamplings, a bottleneck and two skip-connected upsamplings: per-pixel class logits.

    Input uint8 ``(B, 3, H, W)`` or floats in ``[-1, 1]`` with ``H, W`` divisible by 4;
    output ``(B, n_classes, H, W)``.
    """

    def __init__(self, n_classes: int, width: int = 16) -> None:
        super().__init__()
        self.enc1 = _double_conv(3, width)
        self.enc2 = _double_conv(width, 2 * width)
        self.bottleneck = _double_conv(2 * width, 4 * width)
        self.dec2 = _double_conv(6 * width, 2 * width)
        self.dec1 = _double_conv(3 * width, width)
        self.head = nn.Conv2d(width, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(to_signed_unit(x))
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(b, scale_factor=2.0, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], 1))
        return self.head(d1)


class ZooSegmenter:
    """The trained world segmenter behind the ``Segmenter`` protocol (callable + ``classes``)."""

    def __init__(self, net: TinyUNet, classes: tuple[str, ...], size: int, device: str | torch.device | None = None):
        self.net = net.eval()
        self.classes = tuple(classes)
        self.size = size
        self.device = resolve_device(device)
        self.net.to(self.device)

    @torch.no_grad()
    def logits(self, images: Any, batch_size: int = 128) -> torch.Tensor:
        """Per-pixel class logits ``(B, n_classes, H, W)`` float32 on the CPU."""
        images = as_image_batch(images, self.size)
        return batched(self.net, images, self.device, batch_size)

    @torch.no_grad()
    def __call__(self, images: Any, batch_size: int = 128) -> torch.Tensor:
        """Class ids ``(B, H, W)`` int64 on the CPU (indices into :attr:`classes`)."""
        images = as_image_batch(images, self.size)
        return batched(lambda x: self.net(x).argmax(1), images, self.device, batch_size)

    def __repr__(self) -> str:
        return f"ZooSegmenter(size={self.size}, classes={list(self.classes)})"


def segmenter(
    size: int = 32,
    quick: bool = False,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    pretrained: bool = True,
) -> ZooSegmenter:
    """The trained world segmenter: the shipped weights, else trained once and cached.

    Trained on ``World(size).sample(n_train, seed + TRAIN_SEED_OFFSET)`` against the ground-truth
    labels. ``device`` is where it trains (if no weights exist) and runs (default: GPU when present);
    ``pretrained=False`` ignores the weights shipped with genlens.
    """
    from genlens.zoo import CLASSES, World

    check_size(size)
    recipe = RECIPES[bool(quick)]
    dev = resolve_device(device)
    config = {
        "size": size,
        "quick": bool(quick),
        "seed": seed,
        "classes": list(CLASSES),
        "version": VERSION,
        "world": world_version(),
        **recipe,
    }

    def train(net: TinyUNet) -> None:
        scenes = World(size=size).sample(recipe["n_train"], seed=seed + TRAIN_SEED_OFFSET)
        with deterministic(seed):
            reset_parameters(net)
            fit_cross_entropy(
                net,
                torch.from_numpy(scenes.images),
                torch.from_numpy(scenes.labels),
                epochs=recipe["epochs"],
                batch_size=recipe["batch_size"],
                lr=recipe["lr"],
                device=dev,
                class_weights=balanced_class_weights(scenes.labels, len(CLASSES), recipe["weight_power"]),
                description=f"training zoo segmenter ({size}px{', quick' if quick else ''})",
            )

    def build() -> TinyUNet:
        with preserved_rng():
            return TinyUNet(len(CLASSES), recipe["width"])

    net = load_or_train("zoo-segmenter", config, build, train, cache_dir, pretrained)
    return ZooSegmenter(net, CLASSES, size, dev)


def per_class_iou(pred: Any, target: Any, n_classes: int) -> np.ndarray:
    """Intersection over union of each class over a whole set of label maps (one confusion matrix).

    Classes absent from both ``pred`` and ``target`` get NaN (no evidence), so a caller's mean can skip
    them with ``np.nanmean``.
    """
    pred = torch.as_tensor(pred).reshape(-1).long()
    target = torch.as_tensor(target).reshape(-1).long()
    confusion = torch.bincount(target * n_classes + pred, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes).double().numpy()
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(pred: Any, target: Any, n_classes: int) -> float:
    """Mean of :func:`per_class_iou` over the classes that occur in ``pred`` or ``target``."""
    return float(np.nanmean(per_class_iou(pred, target, n_classes)))
