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
from genlens.features.shared_pass import hooked_forward
from genlens.io.base import ImageSource


#: The atlas's name in a report's shared network passes.
CONSUMER = "atlas"


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
    outputs, logits = hooked_forward(model.module, dict(zip(layers, _modules(model, layers))), x, need_logits)
    return {name: as_spatial(value) for name, value in outputs.items()}, logits


class _Stop(Exception):
    """Raised by the gradient probe's hook: nothing after the probed layer is needed."""


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
        raise _Stop  # nothing after the layer is needed

    handle = target.register_forward_hook(capture)
    try:
        with torch.enable_grad():
            try:
                model.module(model.to_input(x))
            except _Stop:
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


def check_request(model: AtlasModel, layers: Sequence[str] | None, positions: int,
                  attribution: bool = False) -> tuple[str, ...]:
    """The layers to read (the model's defaults when none are given), after checking the request."""
    layers = tuple(layers or model.default_layers)
    if not layers:
        raise ConfigError(f"no layers given and no default layers known for {model.name}; pass --layers")
    if positions < 1:
        raise ConfigError(f"positions must be >= 1, got {positions}")
    if attribution and model.classes is None:
        raise ConfigError(f"attribution needs class logits; {model.name} has no class names")
    _modules(model, layers)
    return layers


@dataclass(frozen=True)
class PositionSampler:
    """What the atlas keeps of a batch of layer outputs: the activations at each image's sampled positions.

    ``rel`` holds every image's relative positions (:func:`sample_positions`); images ``lo:hi`` of set
    ``set_index`` use rows ``lo:hi``. Called by :func:`collect_activations` and, in a report, by the
    network pass the atlas shares with other views (:mod:`genlens.features.shared_pass`)."""

    rel: np.ndarray
    set_index: int

    def __call__(self, outputs: Mapping[str, torch.Tensor], logits: torch.Tensor | None, lo: int,
                 hi: int) -> dict[str, dict[str, np.ndarray]]:
        positions = self.rel.shape[1]
        predicted = logits.argmax(1).cpu().numpy() if logits is not None else np.full(hi - lo, -1)
        rows: dict[str, dict[str, np.ndarray]] = {}
        for layer, output in outputs.items():
            fmap = as_spatial(output)
            h, w = fmap.shape[2:]
            u = torch.from_numpy(self.rel[lo:hi]).to(fmap.device)
            ys = (u[..., 0] * h).long().clamp_(0, h - 1)
            xs = (u[..., 1] * w).long().clamp_(0, w - 1)
            b = torch.arange(hi - lo, device=fmap.device)[:, None].expand_as(ys)
            values = fmap.permute(0, 2, 3, 1)[b, ys, xs].reshape(-1, fmap.shape[1])
            rows[layer] = {
                "values": values.float().cpu().numpy(),
                "set_index": np.full(values.shape[0], self.set_index, dtype=np.int8),
                "image_id": np.repeat(np.arange(lo, hi), positions),
                "yx": torch.stack([ys, xs], -1).reshape(-1, 2).cpu().numpy(),
                "predicted": np.repeat(predicted, positions),
                "grid": np.array([h, w]),
            }
        return rows


def assemble(batches: Sequence[Mapping[str, Mapping[str, np.ndarray]]], patch: Mapping[str, int],
             input_size: tuple[int, int], image_sizes: Sequence[tuple[int, int]]) -> dict[str, LayerActivations]:
    """One :class:`LayerActivations` per layer from :class:`PositionSampler` batches (sets in order),
    with each row's patch box in its own set's source pixels (``image_sizes[set_index]``)."""
    out = {}
    for layer in batches[0]:
        parts = [batch[layer] for batch in batches]
        rows = {key: np.concatenate([part[key] for part in parts]) for key in parts[0] if key != "grid"}
        grid = (int(parts[-1]["grid"][0]), int(parts[-1]["grid"][1]))
        boxes = np.empty((len(rows["values"]), 4), dtype=np.int32)
        for set_index, image_size in enumerate(image_sizes):
            mine = rows["set_index"] == set_index
            boxes[mine] = _boxes(rows["yx"][mine, 0], rows["yx"][mine, 1], grid, patch[layer], input_size, image_size)
        out[layer] = LayerActivations(
            layer=layer, values=rows["values"], set_index=rows["set_index"], image_id=rows["image_id"],
            yx=rows["yx"], grid_shape=grid, boxes=boxes, predicted=rows["predicted"],
            attribution=rows.get("attribution"),
        )
    return out


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
    shared: Sequence[Sequence[Mapping[str, Mapping[str, np.ndarray]]] | None] | None = None,
) -> dict[str, LayerActivations]:
    """Sample activations of ``layers`` for every source (set index = order in ``sources``).

    ``shared``: per source, its :class:`PositionSampler` batches from a report's shared network pass
    (``None`` for a source this function must run the network on itself)."""
    layers = check_request(model, layers, positions, attribution)
    dev = resolve_device(device)
    model.module.to(dev).eval()
    counts = {name: min(len(src), max_images or len(src)) for name, src in sources.items()}
    for name, n in counts.items():
        if n < 1:
            raise InputError(f"the {name} set has no images")
    rel = sample_positions(max(counts.values()), positions, seed)
    patch = {layer: effective_patch(model, layer, dev) for layer in layers}
    shared = list(shared) if shared is not None else [None] * len(sources)
    own = [i for i, batches in enumerate(shared) if batches is None]
    batches: list[list[Mapping[str, Mapping[str, np.ndarray]]]] = [list(b) if b is not None else [] for b in shared]
    total = sum(math.ceil(counts[name] / batch_size) for i, name in enumerate(counts) if i in own)
    steps = ((i, name, lo) for i, name in enumerate(counts) if i in own for lo in range(0, counts[name], batch_size))
    for set_index, name, lo in track(steps, "collecting activations", total=total):
        hi = min(lo + batch_size, counts[name])
        x = conv_layout(model.prepare(sources[name].read(lo, hi), dev))
        fmaps, logits = _forward(model, x, layers, need_logits=model.classes is not None)
        rows = PositionSampler(rel, set_index)(fmaps, logits, lo, hi)
        if attribution:
            with torch.enable_grad():
                for layer in layers:
                    yx = torch.from_numpy(rows[layer]["yx"]).to(dev).view(hi - lo, positions, 2)
                    rows[layer]["attribution"] = _attribution(model, x, layer, fmaps[layer], yx[..., 0],
                                                              yx[..., 1]).detach().float().cpu().numpy()
        batches[set_index].append(rows)
    return assemble([b for per_set in batches for b in per_set], patch, model.input_size,
                    [tuple(src.image_size) for src in sources.values()])


def _boxes(ys: np.ndarray, xs: np.ndarray, grid: tuple[int, int], side: int, input_size: tuple[int, int],
           image_size: tuple[int, int]) -> np.ndarray:
    """Patch boxes in source pixels: ``side`` input pixels centred on the grid cell's centre."""
    scale_y = image_size[0] / input_size[0]
    scale_x = image_size[1] / input_size[1]
    cy = (np.asarray(ys).reshape(-1) + 0.5) * input_size[0] / grid[0]
    cx = (np.asarray(xs).reshape(-1) + 0.5) * input_size[1] / grid[1]
    half = side / 2.0
    y0 = np.clip(np.floor((cy - half) * scale_y), 0, image_size[0] - 1)
    x0 = np.clip(np.floor((cx - half) * scale_x), 0, image_size[1] - 1)
    y1 = np.clip(np.ceil((cy + half) * scale_y), y0 + 1, image_size[0])
    x1 = np.clip(np.ceil((cx + half) * scale_x), x0 + 1, image_size[1])
    return np.stack([y0, x0, y1, x1], axis=1).astype(np.int32)
