"""A folder of image files, read recursively in a fixed order (:class:`FolderSource`).

Order: relative POSIX paths sorted as strings, so the same folder gives the same order on every machine.
Hidden files and folders (names starting with ``.``, e.g. macOS ``._x.png``) are ignored.
Files are converted to RGB by the channel rule of :mod:`genlens.io.preprocess`; images whose size differs
from the most common size are resized to it by the one resize policy, with one warning for the folder.

Fingerprint: a hash of every file's relative path, byte size and modification time (ns), plus the
skipped list and target size. It is cheap for 100k files; editing, adding, removing or touching a file
changes it (a copy without preserved times also does, which only costs a recomputation).
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genlens._hashing import hash_json
from genlens._progress import track
from genlens.errors import InputError
from genlens.io.base import ImageSource
from genlens.io.preprocess import resize_uint8

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
_DECODE_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)


def list_image_files(root: Path) -> list[Path]:
    """Image files under ``root`` (recursive, hidden names skipped), sorted by relative POSIX path."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def decode_rgb(path: Path) -> np.ndarray:
    """Decode one file fully to uint8 ``(H, W, 3)``; 16-bit grayscale is scaled to 8 bits first."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            data = np.asarray(image, dtype=np.float64)
            peak = 65535.0 if data.max() > 255 else 255.0
            image = Image.fromarray(np.clip(np.round(data * 255.0 / peak), 0, 255).astype(np.uint8))
        return np.array(image.convert("RGB"), dtype=np.uint8)  # a writable copy


def _header_size(path: Path) -> tuple[int, int]:
    """``(H, W)`` from the file header alone (no pixel decoding)."""
    with Image.open(path) as image:
        width, height = image.size
    return height, width


class FolderSource(ImageSource):
    """Images in a folder tree; ``skip_bad=True`` skips unreadable files (listed in ``describe()``)."""

    def __init__(self, path: str | Path, skip_bad: bool = False) -> None:
        self.root = Path(path).expanduser()
        if not self.root.exists():
            raise InputError(f"no such folder: {self.root}")
        if not self.root.is_dir():
            raise InputError(f"{self.root} is a file, not a folder of images")
        files = list_image_files(self.root)
        if not files:
            exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
            raise InputError(f"no image files ({exts}) found under {self.root}")
        self.skip_bad = skip_bad
        self.skipped: list[str] = []
        sizes: list[tuple[int, int]] = []
        kept: list[Path] = []
        # Header reads catch non-images cheaply; with skip_bad every file is decoded once, so a truncated
        # file is dropped here and the index of every later image stays fixed.
        check = decode_rgb if skip_bad else _header_size
        for file in track(files, f"checking {self.root.name}", total=len(files)):
            try:
                result = check(file)
            except _DECODE_ERRORS as err:
                if not skip_bad:
                    raise InputError(f"cannot read image {file}: {err}. Fix or remove it, or use --skip-bad.") from None
                self.skipped.append(self._rel(file))
                continue
            kept.append(file)
            sizes.append(tuple(result.shape[:2]) if isinstance(result, np.ndarray) else result)
        if not kept:
            raise InputError(f"none of the {len(files)} image files under {self.root} could be read")
        self.files = kept
        counts = Counter(sizes)
        # Most common size; ties go to the larger area so that no tie is broken by downsampling.
        self._size = max(counts, key=lambda s: (counts[s], s[0] * s[1], s))
        self._resized = {i for i, s in enumerate(sizes) if s != self._size}
        self.size_counts = {f"{h}x{w}": c for (h, w), c in sorted(counts.items())}
        if self._resized:
            warnings.warn(
                f"{self.root}: {len(self._resized)} of {len(kept)} images are not {self._size[0]}x{self._size[1]} "
                f"(sizes found: {self.size_counts}); they are resized to it with PIL bicubic.",
                stacklevel=2,
            )
        self._fingerprint: str | None = None

    def _rel(self, file: Path) -> str:
        return file.relative_to(self.root).as_posix()

    def __len__(self) -> int:
        return len(self.files)

    def name_of(self, index: int) -> str:
        return self._rel(self.files[index])

    @property
    def image_size(self) -> tuple[int, int]:
        return self._size

    def read(self, start: int, stop: int) -> torch.Tensor:
        start, stop = max(0, start), min(stop, len(self.files))
        out = torch.empty((max(0, stop - start), 3, *self._size), dtype=torch.uint8)
        for j, i in enumerate(range(start, stop)):
            try:
                pixels = decode_rgb(self.files[i])
            except _DECODE_ERRORS as err:
                raise InputError(
                    f"cannot read image {self.files[i]}: {err}. Fix or remove it, or use --skip-bad."
                ) from None
            image = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)
            if image.shape[-2:] != self._size:
                image = resize_uint8(image, self._size)
            out[j] = image[0]
        return out

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            entries = []
            for file in self.files:
                stat = file.stat()
                entries.append([self._rel(file), stat.st_size, stat.st_mtime_ns])
            self._fingerprint = hash_json({"files": entries, "skipped": self.skipped, "size": self._size}, 32)
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "path": str(self.root),
            "sizes_found": self.size_counts,
            "resized": len(self._resized),
            "skipped": list(self.skipped),
        }
