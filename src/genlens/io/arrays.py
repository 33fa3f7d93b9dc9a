"""Images held in arrays: in-memory numpy/torch (:class:`ArraySource`) and ``.npy``/``.npz`` files (:class:`NpySource`).

Float images carry no unit, so the value range is either stated (``value_range=(0, 1)``, ``(-1, 1)`` or
``(0, 255)``) or detected once from the data: all values in [0, 1] -> (0, 1); some negative and all in
[-1, 1] -> (-1, 1); anything else is an error asking for ``value_range``. The range used, and whether it
was stated or detected, is recorded in ``describe()``. Layout (NCHW or NHWC) is read from the axis that
holds 1, 3 or 4 channels; when both could, ``layout=`` must say which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlens._hashing import hash_array, hash_json, sha256_file
from genlens.errors import InputError
from genlens.io.base import ImageSource
from genlens.io.preprocess import to_rgb

ValueRange = tuple[float, float]
KNOWN_RANGES: tuple[ValueRange, ...] = ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0))
_CHANNELS = (1, 3, 4)
#: Values may overshoot a stated range by this fraction of its width (float rounding, tanh outputs).
_RANGE_SLACK = 1e-3


def parse_value_range(value_range: Any) -> ValueRange | None:
    """``None``, a pair, or a string like ``"-1,1"`` -> a checked ``(low, high)`` pair."""
    if value_range is None:
        return None
    if isinstance(value_range, str):
        value_range = value_range.replace(" ", "").split(",")
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise InputError(f"value_range must be a pair like (0, 1) or (-1, 1), got {value_range!r}") from None
    if not high > low:
        raise InputError(f"value_range must have low < high, got {value_range!r}")
    return (low, high)


def detect_value_range(low: float, high: float, what: str) -> ValueRange:
    """The documented detection rule, from the data's min and max."""
    if low >= 0.0 and high <= 1.0:
        return (0.0, 1.0)
    if low >= -1.0 and high <= 1.0:
        return (-1.0, 1.0)
    raise InputError(
        f"{what} is a float array with values in [{low:.4g}, {high:.4g}]; cannot tell its value range. "
        "Pass value_range=(0, 255) (or the range your images use), or convert the images to uint8."
    )


def check_in_range(low: float, high: float, value_range: ValueRange, what: str) -> None:
    """Refuse data that lies clearly outside the range it claims."""
    slack = _RANGE_SLACK * (value_range[1] - value_range[0])
    if low < value_range[0] - slack or high > value_range[1] + slack:
        raise InputError(
            f"{what} has values in [{low:.4g}, {high:.4g}], outside the stated value_range {value_range}; "
            "state the range the images really use."
        )


def to_uint8(batch: torch.Tensor, value_range: ValueRange | None) -> torch.Tensor:
    """Float images in ``value_range`` -> uint8 by ``round((x - low) / (high - low) * 255)``, clamped."""
    if batch.dtype == torch.uint8:
        return batch
    if not batch.is_floating_point():
        raise InputError(f"cannot read images of dtype {batch.dtype}; use uint8 or float images")
    if value_range is None:
        raise InputError("float images need a value_range such as (0, 1) or (-1, 1)")
    low, high = value_range
    scaled = (batch.to(torch.float64) - low) * (255.0 / (high - low))
    return scaled.round_().clamp_(0, 255).to(torch.uint8)


def detect_layout(shape: tuple[int, ...], layout: str | None, what: str) -> str:
    """``"NCHW"`` or ``"NHWC"`` for a 4-d shape (3-d shapes are ``(N, H, W)`` grayscale)."""
    if len(shape) == 3:
        return "NHW"
    if len(shape) != 4:
        raise InputError(f"{what} must have shape (N, H, W), (N, C, H, W) or (N, H, W, C); got {shape}")
    if layout is not None:
        layout = layout.upper()
        if layout not in ("NCHW", "NHWC"):
            raise InputError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
        return layout
    first, last = shape[1] in _CHANNELS, shape[3] in _CHANNELS
    if first and not last:
        return "NCHW"
    if last and not first:
        return "NHWC"
    if first and last:
        raise InputError(f"{what} has shape {shape}: both axis 1 and axis 3 could hold channels; pass layout=")
    raise InputError(f"{what} has shape {shape}: no axis holds 1, 3 or 4 channels (grayscale, RGB, RGBA)")


def _to_nchw(batch: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "NHW":
        return batch.unsqueeze(1)
    if layout == "NHWC":
        return batch.permute(0, 3, 1, 2)
    return batch


class ArraySource(ImageSource):
    """Images in a numpy array or torch tensor (NCHW or NHWC; uint8, or float with a value range)."""

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        value_range: Any = None,
        layout: str | None = None,
        name: str = "array",
    ) -> None:
        self._data = images
        self._name = name
        if isinstance(images, torch.Tensor):
            dtype_is_float, dtype_is_uint8 = images.is_floating_point(), images.dtype == torch.uint8
        elif isinstance(images, np.ndarray):
            dtype_is_float, dtype_is_uint8 = images.dtype.kind == "f", images.dtype == np.uint8
        else:
            raise InputError(f"{name}: expected a numpy array or torch tensor, got {type(images).__name__}")
        shape = tuple(int(s) for s in images.shape)
        if len(shape) in (3, 4) and shape[0] == 0:
            raise InputError(f"{name} holds no images (shape {shape})")
        self._layout = detect_layout(shape, layout, name)
        if not (dtype_is_float or dtype_is_uint8):
            raise InputError(f"{name} has dtype {images.dtype}; genlens reads uint8 or float images")
        stated = parse_value_range(value_range)
        self._range_source = "uint8"
        self._range: ValueRange | None = None
        if dtype_is_float:
            low, high = self._finite_min_max()
            if stated is None:
                self._range, self._range_source = detect_value_range(low, high, name), "detected"
            else:
                check_in_range(low, high, stated, name)
                self._range, self._range_source = stated, "stated"
        h_axis = 1 if self._layout in ("NHW", "NHWC") else 2
        self._size = (shape[h_axis], shape[h_axis + 1])
        self._n = shape[0]
        self._fingerprint: str | None = None

    def _finite_min_max(self) -> tuple[float, float]:
        """Min/max over the whole array in blocks; NaN or Inf anywhere is an error naming the array."""
        low, high = np.inf, -np.inf
        step = max(1, (1 << 24) // max(1, int(np.prod(self._data.shape[1:]))))
        for lo in range(0, int(self._data.shape[0]), step):
            block = self._data[lo : lo + step]
            block = block.detach().cpu().numpy() if isinstance(block, torch.Tensor) else np.asarray(block)
            if not np.isfinite(block).all():
                bad = int(lo + np.flatnonzero(~np.isfinite(block).reshape(len(block), -1).all(axis=1))[0])
                raise InputError(f"{self._name} contains NaN or Inf values (first at image {bad}); clean the data")
            low, high = min(low, float(block.min())), max(high, float(block.max()))
        return low, high

    def __len__(self) -> int:
        return self._n

    @property
    def image_size(self) -> tuple[int, int]:
        return self._size

    @property
    def value_range(self) -> ValueRange | None:
        """The range float data was read in, or ``None`` for uint8."""
        return self._range

    def read(self, start: int, stop: int) -> torch.Tensor:
        block = self._data[start:stop]
        batch = block if isinstance(block, torch.Tensor) else torch.from_numpy(np.array(block, copy=True))
        batch = _to_nchw(batch.detach().cpu(), self._layout)
        return to_rgb(to_uint8(batch, self._range)).contiguous()

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            data = self._data
            array = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
            self._fingerprint = self._recipe_hash(hash_array(array))
        return self._fingerprint

    def _recipe_hash(self, content: str, key: str = "") -> str:
        """Content digest plus how it is read (layout, value range): same bytes read differently differ."""
        return hash_json({"content": content, "key": key, "layout": self._layout, "range": self._range}, 32)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "name": self._name,
            "layout": self._layout,
            "dtype": str(self._data.dtype),
            "value_range": list(self._range) if self._range else None,
            "value_range_source": self._range_source,
        }


def load_array_file(path: str | Path, key: str | None = None, what: str = "images") -> tuple[np.ndarray, str]:
    """The array in a ``.npy`` file, or in a ``.npz`` (``key``, else ``what``, else its only array).

    Returns ``(array, key_used)``. ``allow_pickle=False`` always: an array file never runs code.
    ``.npy`` files are memory-mapped so large sets are not read into memory at once.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False), ""
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                if key is None:
                    if what in names:
                        key = what
                    elif len(names) == 1:
                        key = names[0]
                    else:
                        raise InputError(
                            f"{path} holds arrays {names}; name one (key=...) or store it as {what!r}"
                        )
                if key not in names:
                    raise InputError(f"{path} has no array {key!r}; it holds {names}")
                return archive[key], key
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"cannot read {path} as a numpy array file: {err}") from None
    raise InputError(f"{path}: expected a .npy or .npz file")


class NpySource(ArraySource):
    """Images in a ``.npy`` file or an ``.npz`` archive (an ``images`` array, or its only array)."""

    def __init__(self, path: str | Path, value_range: Any = None, layout: str | None = None, key: str | None = None):
        self.path = Path(path)
        array, self._key = load_array_file(self.path, key)
        super().__init__(array, value_range=value_range, layout=layout, name=str(self.path))

    def fingerprint(self) -> str:
        # The file's bytes are the content; hashing them avoids materialising a memory map twice.
        if self._fingerprint is None:
            self._fingerprint = self._recipe_hash(sha256_file(self.path), self._key)
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "path": str(self.path), "key": self._key or None}
