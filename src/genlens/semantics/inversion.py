"""Layer inversion: the closest image the later layers ``G_f`` can draw to a given real image.

Starting from ``z0 = E(x)``, perturbations ``delta_i`` are added after every front layer,

    r = delta_n + g_n(... delta_2 + g_2(delta_1 + g_1(z0))),

and optimised with Adam to minimise ``|x - G_f(r)|_1 (+ w_feat * |phi(x) - phi(G_f(r))|_1)
+ lambda_reg * sum_i mean(delta_i^2) / mean(r_i^2)``. Choices, stated: losses are per-element means
(as in the authors' code); each ``|delta_i|^2`` is taken relative to the energy of the unperturbed
activation ``r_i = g_i(...)`` at ``z0``, so one ``lambda_reg`` means the same for layers and generators
whose activations have very different scales; ``delta_n`` acts on ``r`` itself, as in the paper's
formula (their script omitted it). Each image's loss is summed, not averaged, over the batch,
so an image's optimisation does not depend on which other images share its batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlens._progress import track
from genlens.errors import InputError
from genlens.semantics.encoder import LayerEncoder
from genlens.semantics.split import GeneratorSplit


@dataclass(frozen=True)
class Inversion:
    """Targets, reconstructions ``G_f(r*)`` and the encoder-only start ``G(E(x))``, all uint8 ``(n, 3, H, W)``.

    ``l1_start`` / ``l1_final``: per-image mean absolute pixel error in ``[0, 1]`` units.
    """

    images: np.ndarray
    reconstructions: np.ndarray
    initial: np.ndarray
    l1_start: np.ndarray
    l1_final: np.ndarray
    steps: int
    lambda_reg: float
    split: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": int(len(self.images)),
            "steps": self.steps,
            "lambda_reg": self.lambda_reg,
            "front_layers": list(self.split),
            "l1_start": self.l1_start.tolist(),
            "l1_final": self.l1_final.tolist(),
            "mean_l1_start": float(self.l1_start.mean()),
            "mean_l1_final": float(self.l1_final.mean()),
        }


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]`` (the generators' output range)."""
    return images.float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float ``[-1, 1]`` -> uint8, rounded and clamped."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def invert_images(
    split: GeneratorSplit,
    encoder: LayerEncoder,
    images: torch.Tensor,
    steps: int = 300,
    lr: float = 0.01,
    lambda_reg: float = 0.1,
    feature_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    feature_weight: float = 1.0,
    batch_size: int = 32,
) -> Inversion:
    """Reconstruct uint8 ``images`` ``(n, 3, H, W)`` through ``G_f`` (see the module docstring)."""
    out_shape = split.shapes()[-1]
    if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != out_shape:
        raise InputError(
            f"layer inversion needs uint8 images of the generator's output shape {out_shape}, got "
            f"{tuple(images.shape)} {images.dtype}; resize them with genlens.io.preprocess.resize_uint8"
        )
    parts: dict[str, list[torch.Tensor]] = {"rec": [], "init": [], "l1s": [], "l1f": []}
    for lo in track(range(0, len(images), batch_size), "layer inversion"):
        x = to_unit(images[lo : lo + batch_size]).to(split.device)
        rec, init = _invert_batch(split, encoder, x, steps, lr, lambda_reg, feature_fn, feature_weight)
        parts["rec"].append(to_uint8(rec).cpu())
        parts["init"].append(to_uint8(init).cpu())
        parts["l1s"].append(((init - x).abs().mean((1, 2, 3)) / 2).cpu())
        parts["l1f"].append(((rec - x).abs().mean((1, 2, 3)) / 2).cpu())
    return Inversion(
        images=images.cpu().numpy(),
        reconstructions=torch.cat(parts["rec"]).numpy(),
        initial=torch.cat(parts["init"]).numpy(),
        l1_start=torch.cat(parts["l1s"]).double().numpy(),
        l1_final=torch.cat(parts["l1f"]).double().numpy(),
        steps=steps,
        lambda_reg=lambda_reg,
        split=tuple(split.layer_names),
    )


def _invert_batch(
    split: GeneratorSplit,
    encoder: LayerEncoder,
    x: torch.Tensor,
    steps: int,
    lr: float,
    lambda_reg: float,
    feature_fn: Callable[[torch.Tensor], torch.Tensor] | None,
    feature_weight: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        z0 = encoder(x)
        start = split.front(z0)
        initial = split.head(start[-1])
        target_features = feature_fn(x) if feature_fn is not None else None
    deltas = [torch.zeros_like(r, requires_grad=True) for r in start]
    energy = [r.pow(2).flatten(1).mean(1).clamp_min(1e-8) for r in start]
    opt = torch.optim.Adam(deltas, lr=lr)

    def per_image_loss() -> tuple[torch.Tensor, torch.Tensor]:
        rec = split.head(split.front(z0, deltas)[-1])
        loss = (rec - x).abs().flatten(1).mean(1)
        if target_features is not None:
            loss = loss + feature_weight * (feature_fn(rec) - target_features).abs().flatten(1).mean(1)
        for d, e in zip(deltas, energy):
            loss = loss + lambda_reg * d.pow(2).flatten(1).mean(1) / e
        return loss, rec

    for _ in range(steps):
        loss, _ = per_image_loss()
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        _, rec = per_image_loss()
    return rec.detach(), initial
