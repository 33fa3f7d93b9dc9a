"""Array sources: layouts, value ranges (stated or detected), channel rules, NaN/Inf, .npy/.npz files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genlens.errors import InputError
from genlens.io import ArraySource, NpySource, open_source


@pytest.fixture
def uint8_nhwc(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (6, 5, 7, 3), dtype=np.uint8)


def test_layouts_and_tensor_inputs_agree(uint8_nhwc: np.ndarray) -> None:
    nhwc = ArraySource(uint8_nhwc)
    nchw = ArraySource(np.ascontiguousarray(uint8_nhwc.transpose(0, 3, 1, 2)))
    tensor = ArraySource(torch.from_numpy(uint8_nhwc).permute(0, 3, 1, 2))
    assert nhwc.image_size == nchw.image_size == (5, 7) and len(nhwc) == 6
    expected = torch.from_numpy(uint8_nhwc).permute(0, 3, 1, 2)
    for src in (nhwc, nchw, tensor):
        assert torch.equal(src.read_all(), expected)
        assert torch.equal(src.read(2, 5), expected[2:5])
    assert [b.shape[0] for b in nhwc.batches(4)] == [4, 2]


def test_float_ranges_detected_and_recorded(uint8_nhwc: np.ndarray) -> None:
    exact = torch.from_numpy(uint8_nhwc).permute(0, 3, 1, 2)
    unit = ArraySource(uint8_nhwc.astype(np.float32) / 255.0)
    signed = ArraySource(uint8_nhwc.astype(np.float64) / 127.5 - 1.0)
    assert unit.describe()["value_range"] == [0.0, 1.0] and unit.describe()["value_range_source"] == "detected"
    assert signed.value_range == (-1.0, 1.0)
    assert torch.equal(unit.read_all(), exact) and torch.equal(signed.read_all(), exact)
    stated = ArraySource(uint8_nhwc.astype(np.float32), value_range=(0, 255))
    assert torch.equal(stated.read_all(), exact) and stated.describe()["value_range_source"] == "stated"
    assert ArraySource(uint8_nhwc.astype(np.float32) / 255.0, value_range="-1,1").value_range == (-1.0, 1.0)


def test_undecidable_or_violated_range_is_an_error(uint8_nhwc: np.ndarray) -> None:
    with pytest.raises(InputError, match="value_range"):
        ArraySource(uint8_nhwc.astype(np.float32))  # 0..255 floats: must be stated
    with pytest.raises(InputError, match="outside the stated value_range"):
        ArraySource(uint8_nhwc.astype(np.float32) / 127.5 - 1.0, value_range=(0, 1))
    with pytest.raises(InputError, match="dtype"):
        ArraySource(uint8_nhwc.astype(np.int64))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused_naming_the_image(uint8_nhwc: np.ndarray, bad: float) -> None:
    data = uint8_nhwc.astype(np.float32) / 255.0
    data[4, 1, 2, 0] = bad
    with pytest.raises(InputError, match="NaN or Inf.*image 4"):
        ArraySource(data)
    with pytest.raises(InputError, match="NaN or Inf"):
        ArraySource(torch.from_numpy(data), value_range=(0, 1))


def test_grayscale_and_rgba_follow_the_channel_rule(uint8_nhwc: np.ndarray) -> None:
    gray = uint8_nhwc[..., 0]
    out = ArraySource(gray).read_all()
    assert out.shape == (6, 3, 5, 7) and all(torch.equal(out[:, c], torch.from_numpy(gray)) for c in range(3))
    single = ArraySource(gray[:, None]).read_all()  # (N, 1, H, W)
    assert torch.equal(single, out)
    alpha = np.concatenate([uint8_nhwc, np.zeros_like(uint8_nhwc[..., :1])], axis=-1)
    assert torch.equal(ArraySource(alpha).read_all(), ArraySource(uint8_nhwc).read_all())  # alpha dropped


def test_ambiguous_or_bad_shapes(rng: np.random.Generator) -> None:
    cube = rng.integers(0, 256, (2, 3, 5, 3), dtype=np.uint8)
    with pytest.raises(InputError, match="layout"):
        ArraySource(cube)
    assert ArraySource(cube, layout="NHWC").image_size == (3, 5)
    with pytest.raises(InputError, match="no axis holds"):
        ArraySource(rng.integers(0, 256, (2, 5, 6, 7), dtype=np.uint8))
    with pytest.raises(InputError, match="shape"):
        ArraySource(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(InputError, match="no images"):
        ArraySource(np.zeros((0, 4, 4, 3), dtype=np.uint8))


def test_fingerprint_is_content_based(uint8_nhwc: np.ndarray) -> None:
    a, b = ArraySource(uint8_nhwc), ArraySource(uint8_nhwc.copy())
    assert a.fingerprint() == b.fingerprint()
    changed = uint8_nhwc.copy()
    changed[0, 0, 0, 0] ^= 1
    assert ArraySource(changed).fingerprint() != a.fingerprint()
    as_float = uint8_nhwc.astype(np.float32) / 255.0
    assert ArraySource(as_float, value_range=(0, 1)).fingerprint() != ArraySource(as_float, value_range=(-1, 1)).fingerprint()


def test_npy_and_npz_files(tmp_path: Path, uint8_nhwc: np.ndarray) -> None:
    expected = ArraySource(uint8_nhwc).read_all()
    np.save(tmp_path / "x.npy", uint8_nhwc)
    np.savez(tmp_path / "named.npz", images=uint8_nhwc, labels=np.arange(6))
    np.savez(tmp_path / "only.npz", whatever=uint8_nhwc.astype(np.float32) / 255.0)
    np.savez(tmp_path / "two.npz", a=uint8_nhwc, b=uint8_nhwc)
    for name in ("x.npy", "named.npz", "only.npz"):
        src = open_source(tmp_path / name)
        assert isinstance(src, NpySource) and torch.equal(src.read_all(), expected), name
    assert open_source(str(tmp_path / "named.npz")).describe()["key"] == "images"
    with pytest.raises(InputError, match="name one"):
        NpySource(tmp_path / "two.npz")
    assert torch.equal(NpySource(tmp_path / "two.npz", key="b").read_all(), expected)
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(InputError, match="broken.npy"):
        NpySource(tmp_path / "broken.npy")
    with pytest.raises(InputError, match="no such file"):
        NpySource(tmp_path / "missing.npy")
