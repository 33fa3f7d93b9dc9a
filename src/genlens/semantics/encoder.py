"""Layer-wise inverse networks and the composed encoder ``E = e_1(e_2(...e_n(e_f(x))))``.

Each ``e_i`` approximately inverts one front layer ``g_i``. It is trained on generated activations only
(fresh ``z ~ N(0, I)`` every step) with Bau et al.'s left and right inversion losses, both L1:

    L_L = E|r_{i-1} - e(g_i(r_{i-1}))|,   L_R = E|r_i - g_i(e(r_i))|,   loss = L_L + lambda_R * L_R.

``e_f`` maps an image to ``r_n`` and is trained with MSE(r_n, e_f(G_f(r_n))). The inverse networks are
small and shape-generic (feature map <-> feature map, map or vector -> vector), so any split of a
convolutional generator works without hand-written encoders. The authors' code used cosine error
and lambda_R = 0.01; we keep the paper's L1 and default lambda_R to the code's 0.01.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from genlens._progress import track
from genlens.semantics.split import GeneratorSplit


def _hidden(*channels: int) -> int:
    return int(min(128, max(32, *channels)))


def make_inverse(in_shape: Sequence[int], out_shape: Sequence[int]) -> nn.Module:
    """A small network mapping a tensor of ``out_shape`` back to ``in_shape`` (shapes without batch)."""
    in_shape, out_shape = tuple(in_shape), tuple(out_shape)
    if len(in_shape) == 3 and len(out_shape) == 3:
        c_out, c_in = out_shape[0], in_shape[0]
        h = _hidden(c_out, c_in)
        resample: nn.Module
        if in_shape[1:] == out_shape[1:]:
            resample = nn.Identity()
        elif in_shape[1] <= out_shape[1]:
            resample = nn.AdaptiveAvgPool2d(in_shape[1:])
        else:
            resample = nn.Upsample(size=in_shape[1:], mode="nearest")
        return nn.Sequential(
            nn.Conv2d(c_out, h, 3, padding=1),
            nn.BatchNorm2d(h),
            nn.LeakyReLU(0.2),
            nn.Conv2d(h, h, 3, padding=1),
            nn.BatchNorm2d(h),
            nn.LeakyReLU(0.2),
            resample,
            nn.Conv2d(h, c_in, 1),
        )
    n_in, n_out = math.prod(in_shape), math.prod(out_shape)
    h = int(min(512, max(64, n_in, n_out // 4)))
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(n_out, h),
        nn.LeakyReLU(0.2),
        nn.Linear(h, n_in),
        nn.Unflatten(1, in_shape),
    )


def make_image_encoder(image_shape: Sequence[int], r_shape: Sequence[int]) -> nn.Module:
    """``e_f``: a small strided CNN from an image ``(3, H, W)`` to the split activation ``r_n``."""
    c, height, _ = image_shape
    layers: list[nn.Module] = [nn.Conv2d(c, 32, 3, padding=1), nn.LeakyReLU(0.2)]
    width, size = 32, height
    target = r_shape[1] if len(r_shape) == 3 else 4
    while size > target and size >= 8:
        nxt = min(2 * width, 128)
        layers += [nn.Conv2d(width, nxt, 4, stride=2, padding=1), nn.BatchNorm2d(nxt), nn.LeakyReLU(0.2)]
        width, size = nxt, size // 2
    if len(r_shape) == 3:
        layers += [nn.AdaptiveAvgPool2d(tuple(r_shape[1:])), nn.Conv2d(width, r_shape[0], 1)]
    else:
        layers += [nn.Flatten(), nn.Linear(width * size * size, math.prod(r_shape)), nn.Unflatten(1, tuple(r_shape))]
    return nn.Sequential(*layers)


class LayerEncoder(nn.Module):
    """The composed encoder: ``image_encoder`` (e_f) then ``inverses`` e_n ... e_1, giving ``z0``."""

    def __init__(self, image_encoder: nn.Module, inverses: Sequence[nn.Module]) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.inverses = nn.ModuleList(inverses)  # inverses[i] inverts layers[i]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        r = self.image_encoder(images)
        for inverse in reversed(self.inverses):
            r = inverse(r)
        return r


@dataclass(frozen=True)
class EncoderTraining:
    """Losses of the encoder training per front layer: means over the first and last 10% of steps."""

    left_start: tuple[float, ...]
    left: tuple[float, ...]
    right_start: tuple[float, ...]
    right: tuple[float, ...]
    image: float
    steps: int
    lambda_r: float

    def to_dict(self) -> dict[str, object]:
        return {"left_l1_start": list(self.left_start), "left_l1": list(self.left),
                "right_l1_start": list(self.right_start), "right_l1": list(self.right),
                "image_mse": self.image, "steps": self.steps, "lambda_r": self.lambda_r}


def train_encoder(
    split: GeneratorSplit,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-3,
    lambda_r: float = 0.01,
    seed: int = 0,
) -> tuple[LayerEncoder, EncoderTraining]:
    """Train every ``e_i`` with L_L + lambda_R L_R, and ``e_f`` on generated images; return E and losses."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    shapes = split.shapes()
    device = split.device
    inverses = [make_inverse(shapes[i], shapes[i + 1]).to(device) for i in range(len(split.layers))]
    image_encoder = make_image_encoder(shapes[-1], shapes[-2]).to(device)
    tail = max(1, steps // 10)
    left, right, left_start, right_start = [], [], [], []
    for i, (layer, inverse) in enumerate(zip(split.layers, inverses)):
        opt = torch.optim.Adam(inverse.parameters(), lr=lr)
        hist_l, hist_r = [], []
        for _ in track(range(steps), f"inverting layer {split.layer_names[i]}"):
            with torch.no_grad():
                z = split.sample_latents(batch_size, gen)
                r_prev = z if i == 0 else split.front(z)[i - 1]
                r_next = layer(r_prev)
            loss_l = (r_prev - inverse(r_next)).abs().mean()
            loss_r = (r_next - layer(inverse(r_next))).abs().mean()
            opt.zero_grad(set_to_none=True)
            (loss_l + lambda_r * loss_r).backward()
            opt.step()
            hist_l.append(loss_l.item())
            hist_r.append(loss_r.item())
        left_start.append(float(sum(hist_l[:tail]) / tail))
        right_start.append(float(sum(hist_r[:tail]) / tail))
        left.append(float(sum(hist_l[-tail:]) / tail))
        right.append(float(sum(hist_r[-tail:]) / tail))
    opt = torch.optim.Adam(image_encoder.parameters(), lr=lr)
    hist = []
    for _ in track(range(steps), "training the image encoder e_f"):
        with torch.no_grad():
            r = split.front(split.sample_latents(batch_size, gen))[-1]
            x = split.head(r)
        loss = (image_encoder(x) - r).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.append(loss.item())
    encoder = LayerEncoder(image_encoder, inverses).eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    record = EncoderTraining(tuple(left_start), tuple(left), tuple(right_start), tuple(right),
                             float(sum(hist[-tail:]) / tail), steps, lambda_r)
    return encoder, record
