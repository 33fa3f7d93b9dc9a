"""Training utilities shared by the zoo's classifier, segmenter and DCGAN.

Two concerns live here so each model module only states its architecture and its loss: the one
uint8 <-> [-1, 1] convention of every zoo network, and batched inference on the chosen device. Seeded,
deterministic training that leaves the caller's RNG untouched is :mod:`genlens._seeding`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from genlens._progress import track
from genlens.errors import ConfigError, InputError

#: World seeds used for training data are offset by this much, far from the small seeds (0, 1, 2, ...)
#: that tests and the demo use for real and held-out sets, so training and evaluation images never coincide.
TRAIN_SEED_OFFSET = 7_000_000


def to_signed_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [-1, 1]; float input is taken to be in [-1, 1] already."""
    if images.dtype == torch.uint8:
        return images.float().div_(127.5).sub_(1.0)
    if not torch.is_floating_point(images):
        raise InputError(f"images must be uint8 or float in [-1, 1], got dtype {images.dtype}")
    return images.float()


def as_image_batch(images: Any, size: int | None = None, what: str = "images") -> torch.Tensor:
    """Check and convert a ``(B, 3, H, W)`` uint8 batch (numpy or torch) to a torch tensor.

    ``size`` is the side length the model was trained at; other sizes are refused with the fix.
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise InputError(f"{what} must be a torch tensor or numpy array, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise InputError(f"{what} must have shape (B, 3, H, W), got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        raise InputError(f"{what} must be uint8 RGB in [0, 255], got dtype {images.dtype}")
    if size is not None and tuple(images.shape[-2:]) != (size, size):
        raise InputError(
            f"{what} are {tuple(images.shape[-2:])} but this zoo model was trained at {size}x{size}; "
            "resize with genlens.io.preprocess.resize_uint8 or load the model with size="
            f"{images.shape[-1]}"
        )
    return images


@torch.no_grad()
def batched(
    fn: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    device: torch.device,
    batch_size: int = 256,
) -> torch.Tensor:
    """Apply ``fn`` to ``images`` in batches on ``device``; results are gathered on the CPU."""
    outputs = [fn(images[lo : lo + batch_size].to(device)).cpu() for lo in range(0, len(images), batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


def fit_cross_entropy(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    device: torch.device,
    description: str,
    weight_decay: float = 1e-4,
    class_weights: torch.Tensor | None = None,
) -> None:
    """Supervised training with cross-entropy, Adam and a one-cycle schedule (fast, robust for small nets).

    ``images`` are uint8 ``(N, 3, H, W)``; ``targets`` are class ids, ``(N,)`` for image labels or
    ``(N, H, W)`` for per-pixel labels; ``class_weights`` re-weights the loss per target class.
    Must run inside :func:`deterministic` to be reproducible.
    """
    model.to(device).train()
    steps_per_epoch = max(1, len(images) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.25
    )
    loss_fn = nn.CrossEntropyLoss(weight=None if class_weights is None else class_weights.to(device))
    order = torch.randperm(len(images))
    for step in track(range(epochs * steps_per_epoch), description, total=epochs * steps_per_epoch):
        position = step % steps_per_epoch
        if step > 0 and position == 0:
            order = torch.randperm(len(images))
        idx = order[position * batch_size : (position + 1) * batch_size]
        x = to_signed_unit(images[idx].to(device))
        loss = loss_fn(model(x), targets[idx].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    model.cpu().eval()


def balanced_class_weights(labels: np.ndarray, n_classes: int, power: float = 0.5) -> torch.Tensor:
    """Loss weights ``freq ** -power``, scaled so the average weight per pixel is 1.

    Small objects cover ~2% of a world scene's pixels; unweighted, a small segmenter learns to paint
    them as sky or ground. ``power=0.5`` boosts them without drowning the large classes' boundaries.
    """
    freq = np.bincount(np.asarray(labels).ravel(), minlength=n_classes)[:n_classes] / np.asarray(labels).size
    weights = np.maximum(freq, 1e-6) ** -power
    weights /= (weights * freq).sum()
    return torch.tensor(weights, dtype=torch.float32)


def reset_parameters(model: nn.Module) -> None:
    """Re-initialise every layer from the current RNG, so weights depend on the training seed only."""
    for module in model.modules():
        if module is not model and hasattr(module, "reset_parameters"):
            module.reset_parameters()


def check_size(size: int, minimum: int = 16) -> None:
    """Zoo networks halve the resolution a few times: the side must be a multiple of 8."""
    if isinstance(size, bool) or not isinstance(size, int) or size < minimum or size % 8:
        raise ConfigError(f"zoo model size must be a multiple of 8 and >= {minimum} (e.g. 32 or 64), got {size!r}")


def world_version() -> Any:
    """The world's code version, so that a change of the world invalidates cached models."""
    from genlens.zoo import world

    return getattr(world, "WORLD_VERSION", None)
