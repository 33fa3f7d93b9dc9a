"""Images from torch objects: a ``Dataset``/``DataLoader`` (:class:`DatasetSource`) and a generator
callable sampled at fixed latents (:class:`GeneratorSource`).

GeneratorSource determinism: latents come in blocks of :data:`LATENT_BLOCK` images; block ``b`` is drawn
from a CPU ``torch.Generator`` seeded with ``(seed, b)``, so image ``i`` gets the same ``z`` however the
images are batched, resumed or sharded. The fingerprint is a recipe hash: the weights of ``fn`` when it is
an ``nn.Module`` (its parameters and buffers), otherwise its qualified name -- pass ``name=`` to give a
plain function a stable identity that changes when its behaviour does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, SequentialSampler

from genlens._hashing import hash_json
from genlens._progress import track
from genlens.errors import InputError
from genlens.io.arrays import check_in_range, detect_value_range, parse_value_range, to_uint8
from genlens.io.base import ImageSource
from genlens.io.preprocess import to_rgb

LATENT_BLOCK = 1024
_DETECT_ITEMS = 64


def _item_to_tensor(item: Any, index: int) -> torch.Tensor:
    """One dataset item (tensor, array, PIL image, or a tuple whose first element is one) -> ``(C, H, W)``."""
    if isinstance(item, (tuple, list)):
        if not item:
            raise InputError(f"dataset item {index} is an empty tuple")
        item = item[0]
    if isinstance(item, dict):
        raise InputError(f"dataset item {index} is a dict; wrap the dataset so items are image tensors")
    if isinstance(item, torch.Tensor):
        tensor = item
    elif isinstance(item, np.ndarray):
        tensor = torch.from_numpy(item)
        if tensor.ndim == 3 and tensor.shape[-1] in (1, 3, 4) and tensor.shape[0] not in (1, 3, 4):
            tensor = tensor.permute(2, 0, 1)
    elif hasattr(item, "convert") and hasattr(item, "size"):  # a PIL image
        tensor = torch.from_numpy(np.asarray(item.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)
    else:
        raise InputError(f"dataset item {index} is a {type(item).__name__}; expected an image tensor")
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 3:
        raise InputError(f"dataset item {index} has shape {tuple(tensor.shape)}; expected (C, H, W)")
    return tensor


class DatasetSource(ImageSource):
    """A map-style torch ``Dataset``, or a non-shuffling ``DataLoader`` over one, read by index.

    Items may be tensors, arrays or PIL images, or ``(image, label)`` tuples. Float items need a value
    range, stated or detected from the first 64 items (recorded in ``describe()``). The fingerprint is a
    content hash that costs one pass over the data, unless ``fingerprint=`` names the content.
    """

    def __init__(self, data: Dataset | DataLoader, value_range: Any = None, fingerprint: str | None = None):
        if isinstance(data, DataLoader):
            if not isinstance(data.sampler, SequentialSampler):
                raise InputError(
                    "the DataLoader shuffles or samples its data; genlens needs a fixed order -- "
                    "pass the Dataset itself or a DataLoader with shuffle=False"
                )
            data = data.dataset
        if isinstance(data, IterableDataset) or not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
            raise InputError("DatasetSource needs a map-style Dataset (with __len__ and __getitem__)")
        self.dataset = data
        self._n = len(data)  # type: ignore[arg-type]
        if self._n == 0:
            raise InputError("the dataset is empty")
        probe = [_item_to_tensor(data[i], i) for i in range(min(_DETECT_ITEMS, self._n))]
        self._size = (int(probe[0].shape[-2]), int(probe[0].shape[-1]))
        stated = parse_value_range(value_range)
        self._range, self._range_source = None, "uint8"
        if probe[0].is_floating_point():
            stacked = torch.stack([p.to(torch.float64) for p in probe if p.shape == probe[0].shape])
            if not torch.isfinite(stacked).all():
                raise InputError("the dataset's images contain NaN or Inf values")
            low, high = float(stacked.min()), float(stacked.max())
            if stated is None:
                self._range, self._range_source = detect_value_range(low, high, "the dataset"), "detected"
            else:
                check_in_range(low, high, stated, "the dataset")
                self._range, self._range_source = stated, "stated"
        self._fingerprint = fingerprint

    def __len__(self) -> int:
        return self._n

    @property
    def image_size(self) -> tuple[int, int]:
        return self._size

    def read(self, start: int, stop: int) -> torch.Tensor:
        stop = min(stop, self._n)
        out = torch.empty((max(0, stop - start), 3, *self._size), dtype=torch.uint8)
        for j, i in enumerate(range(start, stop)):
            tensor = _item_to_tensor(self.dataset[i], i)
            if tuple(tensor.shape[-2:]) != self._size:
                raise InputError(
                    f"dataset item {i} is {tuple(tensor.shape[-2:])}, item 0 is {self._size}; "
                    "add a Resize to the dataset's transform"
                )
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise InputError(f"dataset item {i} contains NaN or Inf values")
            out[j] = to_rgb(to_uint8(tensor.unsqueeze(0), self._range))[0]
        return out

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for batch in track(self.batches(256), "hashing dataset", total=-(-self._n // 256)):
                digest.update(batch.numpy().tobytes())
            self._fingerprint = digest.hexdigest()[:32]
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "dataset": type(self.dataset).__name__,
            "value_range": list(self._range) if self._range else None,
            "value_range_source": self._range_source,
        }


def _block_seed(seed: int, block: int) -> int:
    """A 63-bit seed for latent block ``block``, independent of Python's hash randomisation."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{block}".encode()).digest()[:8], "little") >> 1


def module_weights_hash(module: torch.nn.Module) -> str:
    """SHA-256 over a module's state dict (names, dtypes, shapes, values), in key order."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


class GeneratorSource(ImageSource):
    """``n`` images ``fn(z)`` with ``z ~ N(0, I)`` drawn deterministically from ``seed`` (see module doc).

    ``fn`` maps a float32 batch of shape ``(B, *latent_shape)`` to images ``(B, C, H, W)``: uint8, or float
    in ``value_range`` (default (-1, 1), the usual tanh output). ``device`` is where ``fn`` runs.
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        latent_dim: int | tuple[int, ...],
        n: int,
        seed: int = 0,
        batch_size: int = 64,
        value_range: Any = (-1.0, 1.0),
        device: str | torch.device | None = None,
        name: str | None = None,
    ) -> None:
        if n < 1:
            raise InputError(f"GeneratorSource needs n >= 1, got {n}")
        self.fn = fn
        self.latent_shape = (int(latent_dim),) if isinstance(latent_dim, int) else tuple(int(d) for d in latent_dim)
        self.n, self.seed, self.batch_size = int(n), int(seed), int(batch_size)
        self.value_range = parse_value_range(value_range)
        self.device = torch.device(device) if device is not None else None
        self.name = name or getattr(fn, "__qualname__", None) or type(fn).__qualname__
        self._block_cache: tuple[int, torch.Tensor] | None = None
        self._size = tuple(self.read(0, 1).shape[-2:])
        self._fingerprint: str | None = None

    def latents(self, start: int, stop: int) -> torch.Tensor:
        """``z`` for images ``start..stop``; image ``i``'s latent depends only on ``(seed, i)``."""
        parts = []
        for block in range(start // LATENT_BLOCK, (stop - 1) // LATENT_BLOCK + 1):
            if self._block_cache is None or self._block_cache[0] != block:
                gen = torch.Generator().manual_seed(_block_seed(self.seed, block))
                z = torch.randn((LATENT_BLOCK, *self.latent_shape), generator=gen, dtype=torch.float32)
                self._block_cache = (block, z)
            lo = max(start, block * LATENT_BLOCK) - block * LATENT_BLOCK
            hi = min(stop, (block + 1) * LATENT_BLOCK) - block * LATENT_BLOCK
            parts.append(self._block_cache[1][lo:hi])
        return torch.cat(parts)

    def __len__(self) -> int:
        return self.n

    @property
    def image_size(self) -> tuple[int, int]:
        return self._size  # type: ignore[return-value]

    def read(self, start: int, stop: int) -> torch.Tensor:
        stop = min(stop, self.n)
        out = []
        for lo in range(start, stop, self.batch_size):
            z = self.latents(lo, min(lo + self.batch_size, stop))
            if self.device is not None:
                z = z.to(self.device)
            with torch.no_grad():
                images = self.fn(z)
            if not isinstance(images, torch.Tensor) or images.ndim != 4:
                raise InputError(f"generator {self.name} must return a (B, C, H, W) tensor")
            images = images.detach().cpu()
            if images.is_floating_point() and not torch.isfinite(images).all():
                raise InputError(f"generator {self.name} produced NaN or Inf values (images {lo}..)")
            out.append(to_rgb(to_uint8(images, self.value_range)))
        return torch.cat(out) if out else torch.empty((0, 3, *self._size), dtype=torch.uint8)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            identity = module_weights_hash(self.fn) if isinstance(self.fn, torch.nn.Module) else None
            recipe = {
                "name": self.name,
                "weights": identity,
                "latent_shape": self.latent_shape,
                "n": self.n,
                "seed": self.seed,
                "latent_rule": f"randn blocks of {LATENT_BLOCK}, torch {torch.__version__.split('+')[0]}",
                "value_range": self.value_range,
            }
            self._fingerprint = hash_json(recipe, 32)
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "generator": self.name,
            "latent_shape": list(self.latent_shape),
            "seed": self.seed,
            "value_range": list(self.value_range) if self.value_range else None,
        }
