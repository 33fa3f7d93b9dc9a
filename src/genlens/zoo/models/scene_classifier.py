"""A small CNN that names the dominant object of a world scene.

Its activations feed the activation atlas (hook the named modules ``conv1``, ``block2``, ``block3``,
``block4``, ``penultimate``, ``fc``), and its penultimate features are an offline feature space: a
stand-in for Inception features when no pretrained weights can be downloaded, trained on exactly the
distribution the planted defects are drawn from.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genlens._device import resolve_device
from genlens._seeding import preserved_rng
from genlens._seeding import seeded as deterministic
from genlens.zoo.models._training import (
    TRAIN_SEED_OFFSET,
    as_image_batch,
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
    False: {"n_train": 4000, "epochs": 5, "batch_size": 64, "lr": 3e-3, "width": 16, "feature_dim": 128},
    True: {"n_train": 2000, "epochs": 4, "batch_size": 64, "lr": 3e-3, "width": 16, "feature_dim": 128},
}


def _conv_block(c_in: int, c_out: int, downsample: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.MaxPool2d(2)] if downsample else []
    layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ZooClassifier(nn.Module):
    """Four conv blocks, global average pooling, a feature layer and a linear head.

    ``forward`` takes uint8 images ``(B, 3, H, W)`` or floats already in ``[-1, 1]`` and returns logits
    over :attr:`classes` (the world's class names; the targets are the scenes' ``main_class``).
    """

    def __init__(self, classes: tuple[str, ...], width: int = 16, feature_dim: int = 128, size: int = 32) -> None:
        super().__init__()
        self.classes = tuple(classes)
        self.size = size
        self.feature_dim = feature_dim
        self.conv1 = _conv_block(3, width, downsample=False)
        self.block2 = _conv_block(width, 2 * width, downsample=True)
        self.block3 = _conv_block(2 * width, 4 * width, downsample=True)
        self.block4 = _conv_block(4 * width, 8 * width, downsample=True)
        self.penultimate = nn.Sequential(
            OrderedDict(
                pool=nn.AdaptiveAvgPool2d(1),
                flatten=nn.Flatten(),
                linear=nn.Linear(8 * width, feature_dim),
                relu=nn.ReLU(inplace=True),
            )
        )
        self.fc = nn.Linear(feature_dim, len(self.classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(B, feature_dim)`` of a batch (uint8 or [-1, 1] floats)."""
        x = to_signed_unit(x)
        return self.penultimate(self.block4(self.block3(self.block2(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(x))

    @torch.no_grad()
    def features(self, images: Any, device: str | torch.device | None = None, batch_size: int = 256) -> torch.Tensor:
        """Penultimate features of uint8 images ``(N, 3, H, W)`` as float32 ``(N, feature_dim)`` on the CPU."""
        images = as_image_batch(images, self.size)
        dev = resolve_device(device)
        self.to(dev).eval()
        return batched(self.embed, images, dev, batch_size)

    @torch.no_grad()
    def predict(self, images: Any, device: str | torch.device | None = None, batch_size: int = 256) -> torch.Tensor:
        """Predicted class ids ``(N,)`` int64 of uint8 images (indices into :attr:`classes`)."""
        images = as_image_batch(images, self.size)
        dev = resolve_device(device)
        self.to(dev).eval()
        return batched(lambda x: self(x).argmax(1), images, dev, batch_size)


def classifier(
    size: int = 32,
    quick: bool = False,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    pretrained: bool = True,
) -> ZooClassifier:
    """The trained world classifier, in eval mode: the shipped weights, else trained once and cached.

    Trained on ``World(size).sample(n_train, seed + TRAIN_SEED_OFFSET)`` to predict ``main_class``.
    ``device`` is where training runs when no weights exist (default: GPU when present);
    ``pretrained=False`` ignores the weights shipped with genlens (see :mod:`~genlens.zoo.models.store`).
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

    def build() -> ZooClassifier:
        with preserved_rng():
            return ZooClassifier(CLASSES, recipe["width"], recipe["feature_dim"], size)

    def train(model: ZooClassifier) -> None:
        scenes = World(size=size).sample(recipe["n_train"], seed=seed + TRAIN_SEED_OFFSET)
        with deterministic(seed):
            reset_parameters(model)
            fit_cross_entropy(
                model,
                torch.from_numpy(scenes.images),
                torch.from_numpy(scenes.main_class),
                epochs=recipe["epochs"],
                batch_size=recipe["batch_size"],
                lr=recipe["lr"],
                device=dev,
                description=f"training zoo classifier ({size}px{', quick' if quick else ''})",
            )

    return load_or_train("zoo-classifier", config, build, train, cache_dir, pretrained)
