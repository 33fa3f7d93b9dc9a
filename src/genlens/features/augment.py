"""SimCLR's image augmentations on whole batches in torch, for training the ``learned`` feature space.

Each image of a batch gets its own random resized crop (area ``scale``, aspect 3/4..4/3), horizontal
flip, colour jitter (brightness, contrast, saturation, a small hue rotation) and occasional grayscale,
but every operation is one batched tensor op: the crop and flip are one ``affine_grid`` + ``grid_sample``
per batch, hue is a per-image 3x3 matrix in YIQ space. A per-image PIL loop (torchvision's transforms)
costs more than the small encoder's own training step on two CPU cores. All draws come from the
``torch.Generator`` passed in, so a seed fixes the views exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: RGB -> YIQ (rows Y, I, Q); hue is a rotation of the (I, Q) chroma plane.
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_LUMA = _YIQ[0]


@dataclass(frozen=True)
class Augment:
    """The view distribution: crop area fraction, jitter strengths, probabilities."""

    crop_scale: tuple[float, float] = (0.5, 1.0)
    flip: float = 0.5
    jitter: float = 0.4  # brightness, contrast and saturation factors drawn from [1 - jitter, 1 + jitter]
    hue: float = 0.05  # fraction of a full turn of the chroma plane, drawn from [-hue, hue]
    jitter_p: float = 0.8
    grayscale_p: float = 0.2

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Float images in [0, 1], ``(B, 3, H, W)`` -> one random view of each, same shape and range."""
        return self.colour(self.crop(images, generator), generator)

    def crop(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random resized crop and flip of every image, resampled back to the input size (bilinear)."""
        b = images.shape[0]
        u = _uniform(generator, b, 5)
        low, high = self.crop_scale
        area = low + (high - low) * u[:, 0]
        aspect = torch.exp(math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * u[:, 1])
        width = torch.sqrt(area * aspect).clamp(max=1.0)
        height = torch.sqrt(area / aspect).clamp(max=1.0)
        cx = (1 - width) * (2 * u[:, 2] - 1)  # crop centre in grid coordinates [-1, 1], inside the image
        cy = (1 - height) * (2 * u[:, 3] - 1)
        sign = torch.where(u[:, 4] < self.flip, -1.0, 1.0)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2] = width * sign, cx
        theta[:, 1, 1], theta[:, 1, 2] = height, cy
        theta = theta.to(images.device, images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def colour(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Brightness, contrast, saturation and hue (together, with probability ``jitter_p``), then grayscale."""
        b, dev, dt = images.shape[0], images.device, images.dtype
        u = _uniform(generator, b, 6).to(dev, dt)
        on = (u[:, 0] < self.jitter_p).to(dt).view(b, 1, 1, 1)
        factors = 1 + self.jitter * (2 * u[:, 1:4] - 1)  # brightness, contrast, saturation
        angle = (2 * u[:, 4] - 1) * self.hue * 2 * math.pi
        ones = torch.ones(b, device=dev, dtype=dt)
        brightness = torch.lerp(ones, factors[:, 0], on.view(b))
        contrast = torch.lerp(ones, factors[:, 1], on.view(b))
        saturation = torch.lerp(ones, factors[:, 2], on.view(b))
        angle = angle * on.view(b)
        luma = _LUMA.to(dev, dt).view(1, 3, 1, 1)

        x = images * brightness.view(b, 1, 1, 1)
        mean = (x * luma).sum(1, keepdim=True).mean((2, 3), keepdim=True)
        x = (x - mean) * contrast.view(b, 1, 1, 1) + mean
        gray = (x * luma).sum(1, keepdim=True)
        x = (x - gray) * saturation.view(b, 1, 1, 1) + gray
        x = torch.einsum("bij,bjhw->bihw", _hue_matrices(angle), x).clamp(0.0, 1.0)
        to_gray = (u[:, 5] < self.grayscale_p).view(b, 1, 1, 1)
        return torch.where(to_gray, (x * luma).sum(1, keepdim=True).expand_as(x), x)


def _uniform(generator: torch.Generator, *shape: int) -> torch.Tensor:
    """Uniform [0, 1) draws on the CPU generator (the same numbers whatever device trains)."""
    return torch.rand(*shape, generator=generator)


def _hue_matrices(angle: torch.Tensor) -> torch.Tensor:
    """Per-image RGB -> RGB matrices that rotate the YIQ chroma plane by ``angle`` radians."""
    yiq = _YIQ.to(angle.device, angle.dtype)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.zeros(len(angle), 3, 3, device=angle.device, dtype=angle.dtype)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1], rotation[:, 1, 2] = cos, -sin
    rotation[:, 2, 1], rotation[:, 2, 2] = sin, cos
    return torch.linalg.inv(yiq) @ rotation @ yiq
