"""Device choice in one place: the GPU when present, unless the user says otherwise."""

from __future__ import annotations

import torch

from genlens.errors import ConfigError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` -> CUDA if available else CPU; otherwise the named device, checked."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available; use --device cpu")
    return dev


def conv_layout(batch: torch.Tensor) -> torch.Tensor:
    """An image batch in the memory layout convolutions run fastest on for its device.

    On the CPU that is channels-last: oneDNN's convolutions run 1.2-1.5x faster on it (Inception-v3
    on 64-px PNGs: 11.9 -> 17.7 img/s; a random VGG16 on 64-px crops: 0.59 -> 0.47 s a batch of 64),
    for the same outputs up to float rounding. Elsewhere the batch is returned as it is."""
    if batch.device.type == "cpu" and batch.ndim == 4:
        return batch.contiguous(memory_format=torch.channels_last)
    return batch
