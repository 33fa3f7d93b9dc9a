"""Folder sources: recursive sorted order, channel rules, mixed sizes, corrupt/truncated files, bad paths."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlens.errors import InputError
from genlens.io import FolderSource, open_source, resize_uint8


def _save(path: Path, array: np.ndarray, mode: str | None = None) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)
    return array


@pytest.fixture
def tree(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, dict[str, np.ndarray]]:
    """Three RGB PNGs in nested folders (lossless, so the read-back pixels are known exactly)."""
    root = tmp_path / "imgs"
    arrays = {}
    for rel in ("b.png", "a/z.png", "a/b/c.png"):
        arrays[rel] = _save(root / rel, rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    (root / "notes.txt").write_text("not an image")
    _save(root / ".hidden" / "x.png", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    return root, arrays


def _listing(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_recursive_sorted_order_and_exact_pixels(tree) -> None:
    root, arrays = tree
    before = _listing(root)
    src = open_source(str(root))
    assert isinstance(src, FolderSource) and len(src) == 3 and src.image_size == (6, 8)
    order = ["a/b/c.png", "a/z.png", "b.png"]  # sorted relative POSIX paths; hidden folder ignored
    assert [f.relative_to(root).as_posix() for f in src.files] == order
    expected = torch.stack([torch.from_numpy(arrays[rel]).permute(2, 0, 1) for rel in order])
    assert torch.equal(src.read_all(), expected)
    assert torch.equal(src.read(1, 3), expected[1:])
    src.fingerprint()
    assert _listing(root) == before, "reading must never write into the input folder"


def test_fingerprint_tracks_file_changes(tree) -> None:
    root, arrays = tree
    first = FolderSource(root).fingerprint()
    assert FolderSource(root).fingerprint() == first
    _save(root / "b.png", arrays["b.png"][::-1].copy())
    os.utime(root / "b.png", ns=(1, 1))
    assert FolderSource(root).fingerprint() != first


def test_grayscale_and_rgba_files(tmp_path: Path, rng: np.random.Generator) -> None:
    gray = _save(tmp_path / "g.png", rng.integers(0, 256, (5, 5), dtype=np.uint8))
    rgba = _save(tmp_path / "h.png", rng.integers(0, 256, (5, 5, 4), dtype=np.uint8))
    gray16 = (rng.integers(0, 256, (5, 5)).astype(np.uint16) * 257)
    Image.fromarray(gray16).save(tmp_path / "i.png")
    out = FolderSource(tmp_path).read_all()
    assert all(torch.equal(out[0, c], torch.from_numpy(gray)) for c in range(3))  # replicated
    assert torch.equal(out[1], torch.from_numpy(rgba[..., :3]).permute(2, 0, 1))  # alpha dropped
    assert torch.equal(out[2, 0], torch.from_numpy((gray16 // 257).astype(np.uint8)))  # 16-bit scaled to 8


def test_mixed_sizes_resized_to_the_most_common_with_one_warning(tmp_path: Path, rng: np.random.Generator) -> None:
    small = [_save(tmp_path / f"s{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)) for i in range(3)]
    big = _save(tmp_path / "t_big.png", rng.integers(0, 256, (16, 12, 3), dtype=np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        src = FolderSource(tmp_path)
        images = src.read_all()
    assert len([w for w in caught if "resized" in str(w.message)]) == 1
    assert src.image_size == (8, 8) and src.describe()["resized"] == 1
    assert torch.equal(images[0], torch.from_numpy(small[0]).permute(2, 0, 1))
    expected = resize_uint8(torch.from_numpy(big).permute(2, 0, 1)[None], (8, 8))[0]
    assert torch.equal(images[3], expected)


def test_corrupt_file_names_the_file(tree) -> None:
    root, _ = tree
    (root / "a" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(InputError, match=r"broken\.png.*--skip-bad"):
        FolderSource(root)
    src = FolderSource(root, skip_bad=True)
    assert len(src) == 3 and src.describe()["skipped"] == ["a/broken.png"]


def test_truncated_file_fails_on_read_or_is_skipped(tree) -> None:
    root, arrays = tree
    data = (root / "b.png").read_bytes()
    (root / "c_trunc.png").write_bytes(data[: len(data) // 2])
    src = FolderSource(root)  # the header is intact: found when the pixels are decoded
    with pytest.raises(InputError, match=r"c_trunc\.png"):
        src.read_all()
    skipping = FolderSource(root, skip_bad=True)
    assert skipping.describe()["skipped"] == ["c_trunc.png"] and len(skipping) == 3
    assert skipping.read_all().shape == (3, 3, 6, 8)


def test_missing_and_empty_paths(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        FolderSource(tmp_path / "nope")
    with pytest.raises(InputError, match="no such file or folder"):
        open_source(str(tmp_path / "nope"))
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(InputError, match="no image files"):
        open_source(tmp_path / "empty")
    (tmp_path / "photo.gif").write_bytes(b"GIF89a")
    with pytest.raises(InputError, match="cannot read as images"):
        open_source(tmp_path / "photo.gif")
