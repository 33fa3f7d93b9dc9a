"""Feature-visualisation icons: for each occupied cell, an image that makes the layer's centre unit
point like the cell's mean activation.

After lucid's atlas recipe: the image is parameterised by its Fourier coefficients (scaled by 1/f so
low frequencies dominate) in a colour-decorrelated basis (the square root of the *data's* colour
covariance) and squashed by a sigmoid; each step draws a random pad/jitter/scale/rotation per sample,
applied to the whole batch in one ``affine_grid``/``grid_sample`` call; the objective is
``dot(h, v) * cos(h, v)^p`` at the centre position, maximised with Adam. All cells are optimised as
one batch, and each sample keeps its best image. Icons are cached on disk by a hash of the model
weights, layer, directions and settings. No whitening of the directions (lucid's optional
``inv(A^T A)``) is applied.
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genlens._device import resolve_device
from genlens._fs import atomic_write_bytes, default_cache_dir
from genlens._hashing import hash_array, hash_json
from genlens._progress import track
from genlens.atlas.activations import LayerActivations, _modules, as_spatial
from genlens.atlas.model import AtlasModel
from genlens.atlas.result import GridResult
from genlens.atlas import stats
from genlens.io.base import ImageSource


@dataclass(frozen=True)
class IconConfig:
    """Small and few steps by default so CPU runs stay short; Distill used 80 px and 1024+ steps."""

    size: int = 32
    steps: int = 48
    lr: float = 0.05
    power: float = 2.0
    pad: int = 4
    jitter: int = 2
    scale: tuple[float, float] = (0.9, 1.1)
    rotate_deg: float = 10.0
    min_count: int = 3
    batch_size: int = 256
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Stop(Exception):
    pass


def colour_sqrt(images: torch.Tensor | None) -> torch.Tensor:
    """Square root of the RGB covariance of ``images`` (uint8), columns scaled to max norm 1; the
    identity when no images are given. Optimising in this basis decorrelates colour channels."""
    if images is None or images.numel() == 0:
        return torch.eye(3)
    pixels = images.permute(1, 0, 2, 3).reshape(3, -1).double() / 255.0
    cov = torch.cov(pixels) + 1e-6 * torch.eye(3, dtype=torch.float64)
    evals, evecs = torch.linalg.eigh(cov)
    root = evecs @ torch.diag(evals.clamp_min(0).sqrt()) @ evecs.T
    return (root / root.norm(dim=0).max()).float()


def _spectrum_scale(size: int) -> torch.Tensor:
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    freqs = torch.sqrt(fy * fy + fx * fx)
    return (1.0 / torch.clamp(freqs, min=1.0 / size)) * size


def fourier_images(params: torch.Tensor, scale: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """Spectrum parameters ``(B, 3, S, S//2+1, 2)`` -> images in [0, 1], ``(B, 3, S, S)``."""
    size = scale.shape[0]
    spectrum = torch.view_as_complex(params) * scale
    image = torch.fft.irfft2(spectrum, s=(size, size)) / 4.0
    image = torch.einsum("ij,bjhw->bihw", colour, image)
    return torch.sigmoid(image)


def random_transform(images: torch.Tensor, config: IconConfig, gen: torch.Generator) -> torch.Tensor:
    """Pad, then one random scale/rotation/translation per sample (one grid_sample), crop back."""
    b, _, s, _ = images.shape
    padded = F.pad(images, (config.pad,) * 4, value=0.5)
    full = s + 2 * config.pad
    lo, hi = config.scale
    scale = lo + (hi - lo) * torch.rand(b, generator=gen)
    angle = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(config.rotate_deg)
    shift = (torch.randint(-config.jitter, config.jitter + 1, (b, 2), generator=gen).float() * 2.0 / full)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images.device), list(padded.shape), align_corners=False)
    warped = F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return warped[:, :, config.pad:config.pad + s, config.pad:config.pad + s]


def _centre_activation(model: AtlasModel, layer: str, x: torch.Tensor) -> torch.Tensor:
    store: dict[str, torch.Tensor] = {}

    def hook(_m: Any, _i: Any, out: Any) -> None:
        store["h"] = as_spatial(out)
        raise _Stop

    handle = _modules(model, [layer])[0].register_forward_hook(hook)
    try:
        model.module(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    h = store["h"]
    return h[:, :, h.shape[2] // 2, h.shape[3] // 2]


def render_icons(model: AtlasModel, layer: str, directions: np.ndarray, config: IconConfig = IconConfig(),
                 colour: torch.Tensor | None = None, device: str | torch.device | None = None) -> np.ndarray:
    """Icons ``(B, S, S, 3)`` uint8, one per row of ``directions`` ``(B, D)``, optimised as one batch."""
    dev = resolve_device(device)
    model.module.to(dev).eval()
    flags = [p.requires_grad for p in model.module.parameters()]
    for p in model.module.parameters():
        p.requires_grad_(False)  # gradients flow to the image only
    try:
        return _optimise(model, layer, directions, config, colour, dev)
    finally:
        for p, flag in zip(model.module.parameters(), flags):
            p.requires_grad_(flag)


def _optimise(model: AtlasModel, layer: str, directions: np.ndarray, config: IconConfig,
              colour: torch.Tensor | None, dev: torch.device) -> np.ndarray:
    gen = torch.Generator().manual_seed(config.seed)
    colour = (colour if colour is not None else torch.eye(3)).to(dev)
    scale = _spectrum_scale(config.size).to(dev)
    out = []
    for lo in range(0, len(directions), config.batch_size):
        v = torch.as_tensor(directions[lo:lo + config.batch_size], dtype=torch.float32, device=dev)
        v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-8)
        shape = (len(v), 3, config.size, config.size // 2 + 1, 2)
        params = (0.01 * torch.randn(shape, generator=gen)).to(dev).requires_grad_(True)
        optimiser = torch.optim.Adam([params], lr=config.lr)
        best = torch.full((len(v),), -float("inf"), device=dev)
        best_images = torch.zeros(len(v), 3, config.size, config.size, device=dev)
        for _ in range(config.steps):
            images = fourier_images(params, scale, colour)
            h = _centre_activation(model, layer, model.to_input(random_transform(images, config, gen)))
            dot = (h * v).sum(1)
            cos = dot / h.norm(dim=1).clamp_min(1e-4)
            objective = dot * cos.clamp_min(0.1) ** config.power
            with torch.no_grad():
                better = objective > best
                best = torch.where(better, objective, best)
                best_images[better] = images[better]
            optimiser.zero_grad(set_to_none=True)
            (-objective.sum()).backward()
            optimiser.step()
        out.append((best_images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, config.size, config.size, 3), np.uint8)


def render_cell_icons(model: AtlasModel, layer: str, act: LayerActivations, coords: np.ndarray, grid: GridResult,
                      config: IconConfig, device: str | torch.device | None, cache_dir: str | Path | None,
                      real: ImageSource | None = None) -> GridResult:
    """``grid`` with icons for every cell holding at least ``config.min_count`` activations (cached)."""
    cells = stats.cell_index(coords, grid.grid)
    means, counts = stats.cell_means(act.values, cells, grid.grid * grid.grid)
    chosen = np.flatnonzero(counts >= config.min_count)
    directions = means[chosen].astype(np.float32)
    key = hash_json({"model": model.to_dict(), "layer": layer, "directions": hash_array(directions),
                     "config": config.to_dict(), "version": 1})
    path = Path(cache_dir or default_cache_dir()) / "atlas-icons" / f"{key}.npy"
    if path.is_file():
        icons = np.load(path, allow_pickle=False)
    else:
        colour = colour_sqrt(real.read(0, min(len(real), 256)) if real is not None else None)
        icons = np.concatenate([render_icons(model, layer, chunk, config, colour, device) for chunk in track(
            np.array_split(directions, max(1, math.ceil(len(directions) / config.batch_size))),
            f"rendering icons for {layer}")]) if len(directions) else np.zeros((0, config.size, config.size, 3), np.uint8)
        buf = io.BytesIO()
        np.save(buf, icons, allow_pickle=False)
        atomic_write_bytes(path, buf.getvalue())
    return dataclasses.replace(grid, icons=icons, icon_cells=chosen)
