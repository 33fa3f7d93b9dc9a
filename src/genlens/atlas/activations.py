"""Spatial activations of named layers, one or several random positions per image, with provenance.

Each sampled activation is recorded as (set, image id, layer, y, x) plus the box of input pixels it
mostly sees (the *effective* receptive field, measured by a gradient probe), so its patch can be cut
out of the source image later. Positions are drawn once per image in relative coordinates from a
fixed seed and mapped onto every layer's grid, so all layers look at the same spots (lucid's
"aligned" sampling) and real and generated images are sampled identically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genlens._device import conv_layout, resolve_device
from genlens._progress import track
from genlens._torch_compat import load_jvp_decompositions
from genlens.atlas.model import AtlasModel
from genlens.errors import ConfigError, InputError
from genlens.io.base import ImageSource


@dataclass(frozen=True)
class LayerActivations:
    """All sampled activations of one layer; row ``i`` of every array describes the same sample.

    ``boxes`` are ``(y0, x0, y1, x1)`` end-exclusive in the *source* image's pixels; ``predicted`` is
    the network's top class for the whole image (-1 without class logits); ``attribution`` is
    ``(n, K)`` activation x gradient of each logit at the sampled position, when requested.
    """

    layer: str
    values: np.ndarray
    set_index: np.ndarray
    image_id: np.ndarray
    yx: np.ndarray
    grid_shape: tuple[int, int]
    boxes: np.ndarray
    predicted: np.ndarray
    attribution: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def subset(self, mask: np.ndarray) -> "LayerActivations":
        """The rows selected by a boolean mask or an index array."""
        return LayerActivations(
            self.layer, self.values[mask], self.set_index[mask], self.image_id[mask], self.yx[mask],
            self.grid_shape, self.boxes[mask], self.predicted[mask],
            None if self.attribution is None else self.attribution[mask],
        )


class _StopForward(Exception):
    """Raised once every hooked layer has fired, when nothing later in the network is needed."""


def as_spatial(output: object) -> torch.Tensor:
    """A layer's output as ``(B, C, h, w)``: first element of tuples; ViT tokens ``(B, N, C)`` become a
    ``sqrt(N - prefix)`` square grid after dropping the class/register prefix tokens."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ConfigError(f"layer output is {type(output).__name__}, not a tensor")
    if output.ndim == 4:
        return output
    if output.ndim == 3:
        n_tokens = output.shape[1]
        side = math.isqrt(n_tokens)
        grid = output[:, n_tokens - side * side:, :]
        return grid.reshape(output.shape[0], side, side, output.shape[2]).permute(0, 3, 1, 2)
    raise ConfigError(f"layer output has shape {tuple(output.shape)}; the atlas needs a spatial map or tokens")


def _modules(model: AtlasModel, layers: Sequence[str]) -> list[nn.Module]:
    named = dict(model.module.named_modules())
    missing = [layer for layer in layers if layer not in named]
    if missing:
        some = ", ".join(name for name in list(named)[1:40] if name)
        raise ConfigError(f"{model.name} has no layer(s) {missing}; module names include: {some} ...")
    return [named[layer] for layer in layers]


def _forward(model: AtlasModel, x: torch.Tensor, layers: Sequence[str], need_logits: bool):
    """Run the module once, returning ``({layer: (B,C,h,w)}, logits or None)``."""
    captured: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def capture(_m: nn.Module, _i: object, out: object) -> None:
            captured[name] = as_spatial(out).detach().clone()  # later in-place ops must not change it
            if not need_logits and len(captured) == len(layers):
                raise _StopForward
        return capture

    handles = [m.register_forward_hook(hook(name)) for name, m in zip(layers, _modules(model, layers))]
    logits = None
    try:
        out = model.module(x)
        if isinstance(out, torch.Tensor) and out.ndim == 2:
            logits = out.detach()
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return captured, logits


def effective_patch(model: AtlasModel, layer: str, device: torch.device, threshold: float = 0.05) -> int:
    """Side (input pixels) of the region that moves the centre unit of ``layer``: where the input
    gradient exceeds ``threshold`` of its maximum, measured on a few random images. Model-agnostic, so
    no receptive-field arithmetic per architecture is needed."""
    target = _modules(model, [layer])[0]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((4, 3, *model.input_size), generator=gen).to(device).requires_grad_(True)
    store: dict[str, torch.Tensor] = {}

    def capture(_m: nn.Module, _i: object, out: object) -> None:
        store["h"] = as_spatial(out)
        raise _StopForward  # nothing after the layer is needed

    handle = target.register_forward_hook(capture)
    try:
        with torch.enable_grad():
            try:
                model.module(model.to_input(x))
            except _StopForward:
                pass
            h = store["h"]
            h[:, :, h.shape[2] // 2, h.shape[3] // 2].abs().sum().backward()
    finally:
        handle.remove()
    grad = x.grad.abs().sum(dim=(0, 1))
    rows = torch.nonzero(grad.amax(1) > threshold * grad.max()).flatten()
    cols = torch.nonzero(grad.amax(0) > threshold * grad.max()).flatten()
    if rows.numel() == 0:
        return max(1, model.input_size[0] // max(1, h.shape[2]))
    return int(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))


def _attribution(model: AtlasModel, x: torch.Tensor, layer: str, fmap: torch.Tensor, ys: torch.Tensor,
                 xs: torch.Tensor) -> torch.Tensor:
    """Activation x gradient of every logit at each sampled position: one forward-mode JVP per position
    slot, tangent = the activation at that position and zero elsewhere (Distill's attribution)."""
    target = _modules(model, [layer])[0]
    batch = torch.arange(x.shape[0], device=x.device)

    def layer_to_logits(h: torch.Tensor) -> torch.Tensor:
        handle = target.register_forward_hook(lambda _m, _i, _o: h.clone())
        try:
            return model.module(x)
        finally:
            handle.remove()

    load_jvp_decompositions()
    out = []
    for p in range(ys.shape[1]):
        tangent = torch.zeros_like(fmap)
        tangent[batch, :, ys[:, p], xs[:, p]] = fmap[batch, :, ys[:, p], xs[:, p]]
        _, dlogits = torch.func.jvp(layer_to_logits, (fmap,), (tangent,))
        out.append(dlogits)
    return torch.stack(out, dim=1).reshape(-1, out[0].shape[1])


def sample_positions(n_images: int, positions: int, seed: int) -> np.ndarray:
    """Relative positions ``(n_images, positions, 2)`` in [0, 1): the same for every set and layer."""
    return np.random.default_rng(seed).random((n_images, positions, 2))


@torch.no_grad()
def collect_activations(
    model: AtlasModel,
    sources: Mapping[str, ImageSource],
    layers: Sequence[str] | None = None,
    positions: int = 1,
    seed: int = 0,
    max_images: int | None = None,
    batch_size: int = 64,
    attribution: bool = False,
    device: str | torch.device | None = None,
) -> dict[str, LayerActivations]:
    """Sample activations of ``layers`` for every source (set index = order in ``sources``)."""
    layers = tuple(layers or model.default_layers)
    if not layers:
        raise ConfigError(f"no layers given and no default layers known for {model.name}; pass --layers")
    if positions < 1:
        raise ConfigError(f"positions must be >= 1, got {positions}")
    if attribution and model.classes is None:
        raise ConfigError(f"attribution needs class logits; {model.name} has no class names")
    dev = resolve_device(device)
    model.module.to(dev).eval()
    _modules(model, layers)
    counts = {name: min(len(src), max_images or len(src)) for name, src in sources.items()}
    for name, n in counts.items():
        if n < 1:
            raise InputError(f"the {name} set has no images")
    rel = sample_positions(max(counts.values()), positions, seed)
    patch = {layer: effective_patch(model, layer, dev) for layer in layers}
    parts: dict[str, dict[str, list[np.ndarray]]] = {layer: {} for layer in layers}
    grids: dict[str, tuple[int, int]] = {}
    total = sum(math.ceil(n / batch_size) for n in counts.values())
    steps = ((i, name, lo) for i, (name, n) in enumerate(counts.items()) for lo in range(0, n, batch_size))
    for set_index, name, lo in track(steps, "collecting activations", total=total):
        src = sources[name]
        hi = min(lo + batch_size, counts[name])
        images = src.read(lo, hi)
        x = conv_layout(model.prepare(images, dev))
        fmaps, logits = _forward(model, x, layers, need_logits=model.classes is not None)
        predicted = logits.argmax(1).cpu().numpy() if logits is not None else np.full(hi - lo, -1)
        u = torch.from_numpy(rel[lo:hi]).to(dev)
        for layer in layers:
            fmap = fmaps[layer]
            h, w = fmap.shape[2:]
            grids[layer] = (h, w)
            ys = (u[..., 0] * h).long().clamp_(0, h - 1)
            xs = (u[..., 1] * w).long().clamp_(0, w - 1)
            b = torch.arange(hi - lo, device=dev)[:, None].expand_as(ys)
            values = fmap.permute(0, 2, 3, 1)[b, ys, xs].reshape(-1, fmap.shape[1])
            rows = {
                "values": values.float().cpu().numpy(),
                "set_index": np.full(values.shape[0], set_index, dtype=np.int8),
                "image_id": np.repeat(np.arange(lo, hi), positions),
                "yx": torch.stack([ys, xs], -1).reshape(-1, 2).cpu().numpy(),
                "predicted": np.repeat(predicted, positions),
                "boxes": _boxes(ys, xs, (h, w), patch[layer], model.input_size, src.image_size),
            }
            if attribution:
                with torch.enable_grad():
                    rows["attribution"] = _attribution(model, x, layer, fmap, ys, xs).detach().float().cpu().numpy()
            for key, value in rows.items():
                parts[layer].setdefault(key, []).append(value)
    return {
        layer: LayerActivations(
            layer=layer,
            values=np.concatenate(p["values"]),
            set_index=np.concatenate(p["set_index"]),
            image_id=np.concatenate(p["image_id"]),
            yx=np.concatenate(p["yx"]),
            grid_shape=grids[layer],
            boxes=np.concatenate(p["boxes"]),
            predicted=np.concatenate(p["predicted"]),
            attribution=np.concatenate(p["attribution"]) if attribution else None,
        )
        for layer, p in parts.items()
    }


def _boxes(ys: torch.Tensor, xs: torch.Tensor, grid: tuple[int, int], side: int, input_size: tuple[int, int],
           image_size: tuple[int, int]) -> np.ndarray:
    """Patch boxes in source pixels: ``side`` input pixels centred on the grid cell's centre."""
    scale_y = image_size[0] / input_size[0]
    scale_x = image_size[1] / input_size[1]
    cy = (ys.cpu().numpy().reshape(-1) + 0.5) * input_size[0] / grid[0]
    cx = (xs.cpu().numpy().reshape(-1) + 0.5) * input_size[1] / grid[1]
    half = side / 2.0
    y0 = np.clip(np.floor((cy - half) * scale_y), 0, image_size[0] - 1)
    x0 = np.clip(np.floor((cx - half) * scale_x), 0, image_size[1] - 1)
    y1 = np.clip(np.ceil((cy + half) * scale_y), y0 + 1, image_size[0])
    x1 = np.clip(np.ceil((cx + half) * scale_x), x0 + 1, image_size[1])
    return np.stack([y0, x0, y1, x1], axis=1).astype(np.int32)
