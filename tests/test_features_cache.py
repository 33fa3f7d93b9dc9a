"""The feature cache: no recomputation on a second run, bit-identical resume after a crash, sharding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genlens.errors import ConfigError, InputError
from genlens.features import extract_features
from genlens.features.base import FeatureExtractor
from genlens.io import ArraySource, Preprocess


class _Boom(RuntimeError):
    pass


class CountingExtractor(FeatureExtractor):
    """A small fixed random projection of the pixels; counts forward calls and can crash on call k."""

    name = "counting-test"
    outputs = ("features", "aux")

    def __init__(self, crash_on_call: int | None = None, scale: float = 1.0) -> None:
        super().__init__(Preprocess(size=None), device="cpu")
        self.weight = torch.randn(3 * 8 * 8, 5, generator=torch.Generator().manual_seed(0)) * scale
        self.calls = 0
        self.crash_on_call = crash_on_call

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        if self.crash_on_call is not None and self.calls == self.crash_on_call:
            raise _Boom("killed mid-extraction")
        x = images.flatten(1).float() / 255.0
        feats = x @ self.weight
        return {"features": feats, "aux": feats.sum(1, keepdim=True)}

    def weights_id(self) -> dict:
        return {"weights": "test-projection"}


@pytest.fixture
def source() -> ArraySource:
    images = np.random.default_rng(0).integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    return ArraySource(images)


def _reference(source: ArraySource) -> np.ndarray:
    ext = CountingExtractor()
    return (source.read_all().flatten(1).float() / 255.0 @ ext.weight).numpy()


def test_second_run_calls_the_network_zero_times(source: ArraySource, tmp_path: Path) -> None:
    first = CountingExtractor()
    a = extract_features(source, first, cache_dir=tmp_path, batch_size=4, chunk_size=16)
    assert first.calls == 13  # 4 chunks of 16,16,16,2 images in batches of 4: 4+4+4+1
    np.testing.assert_allclose(a, _reference(source), rtol=1e-6)
    assert a.dtype == np.float32 and a.shape == (50, 5)
    second = CountingExtractor()
    b = extract_features(source, second, cache_dir=tmp_path, batch_size=4, chunk_size=16)
    assert second.calls == 0
    np.testing.assert_array_equal(a, b)
    # the other output was cached too: asking for it later costs nothing
    both = extract_features(source, second, cache_dir=tmp_path, batch_size=4, chunk_size=16, outputs=["features", "aux"])
    assert second.calls == 0 and set(both) == {"features", "aux"} and both["aux"].shape == (50, 1)


def test_killed_extraction_resumes_from_finished_chunks(source: ArraySource, tmp_path: Path) -> None:
    uninterrupted = extract_features(source, CountingExtractor(), cache_dir=tmp_path / "clean", chunk_size=16, batch_size=8)
    crashing = CountingExtractor(crash_on_call=6)  # chunk 0 = calls 1-2, chunk 1 = 3-4, chunk 2 = 5-6
    with pytest.raises(_Boom):
        extract_features(source, crashing, cache_dir=tmp_path / "run", chunk_size=16, batch_size=8)
    (key_dir,) = (tmp_path / "run").iterdir()
    chunks = sorted(p.name for p in key_dir.glob("chunk-*.npz"))
    assert chunks == ["chunk-000000000-000000016.npz", "chunk-000000016-000000032.npz"]
    assert not [p for p in key_dir.iterdir() if p.name.endswith(".tmp")], "no half-written files left"
    resumed = CountingExtractor()
    result = extract_features(source, resumed, cache_dir=tmp_path / "run", chunk_size=16, batch_size=8)
    assert resumed.calls == 3  # chunk 2 (two batches) and chunk 3 (one batch) only
    np.testing.assert_array_equal(result, uninterrupted)


def test_key_depends_on_source_extractor_and_chunking(source: ArraySource, tmp_path: Path) -> None:
    extract_features(source, CountingExtractor(), cache_dir=tmp_path, chunk_size=16)
    other_weights = CountingExtractor(scale=2.0)
    other_weights.weights_id = lambda: {"weights": "other"}  # type: ignore[method-assign]
    extract_features(source, other_weights, cache_dir=tmp_path, chunk_size=16)
    assert other_weights.calls > 0
    other_images = ArraySource(source.read_all().numpy()[::-1].copy())
    ext = CountingExtractor()
    extract_features(other_images, ext, cache_dir=tmp_path, chunk_size=16)
    assert ext.calls > 0
    assert len(list(tmp_path.iterdir())) == 3


def test_no_cache_and_unknown_output(source: ArraySource, tmp_path: Path) -> None:
    ext = CountingExtractor()
    extract_features(source, ext, cache_dir=False)
    extract_features(source, ext, cache_dir=False)
    assert ext.calls == 2
    with pytest.raises(ConfigError, match="no output"):
        extract_features(source, ext, cache_dir=False, outputs="logits")


def test_shards_are_disjoint_and_cover_everything(source: ArraySource, tmp_path: Path) -> None:
    parts, seen = [], []
    for rank in range(3):
        ext = CountingExtractor()
        feats, idx = extract_features(
            source, ext, cache_dir=tmp_path, chunk_size=8, batch_size=8, shard=(rank, 3), return_indices=True
        )
        parts.append(feats)
        seen.append(idx)
        assert ext.calls == len(idx) // 8 + (len(idx) % 8 > 0)  # each rank computes only its own chunks
    all_idx = np.concatenate(seen)
    assert sorted(all_idx.tolist()) == list(range(50))
    full = np.empty((50, 5), dtype=np.float32)
    full[all_idx] = np.concatenate(parts)
    reader = CountingExtractor()
    np.testing.assert_array_equal(extract_features(source, reader, cache_dir=tmp_path, chunk_size=8), full)
    assert reader.calls == 0
    with pytest.raises(ConfigError):
        extract_features(source, reader, cache_dir=False, shard=(3, 3))


def test_non_finite_features_are_an_error_and_not_cached(source: ArraySource, tmp_path: Path) -> None:
    ext = CountingExtractor()
    ext.weight[0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN or Inf"):
        extract_features(source, ext, cache_dir=tmp_path, chunk_size=16)
    assert not list(tmp_path.glob("*/chunk-*"))


_RANK_SCRIPT = """
import sys, numpy as np, torch.distributed as dist
from genlens.features import extract_features, get_extractor
from genlens.io import ArraySource
dist.init_process_group("gloo", init_method="env://")
images = np.random.default_rng(0).integers(0, 256, (40, 3, 8, 8), dtype=np.uint8)
feats, idx = extract_features(ArraySource(images), get_extractor("pixels", device="cpu"), cache_dir=sys.argv[1],
                              chunk_size=8, shard="auto", return_indices=True)
dist.barrier()
np.savez(sys.argv[2], feats=feats, idx=idx)
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_torch_distributed_ranks_take_disjoint_shards(tmp_path: Path) -> None:
    """Two gloo processes with shard="auto": each extracts its own chunks; together they cover the set."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        out = tmp_path / f"rank{rank}.npz"
        procs.append(subprocess.Popen([sys.executable, "-c", _RANK_SCRIPT, str(tmp_path / "cache"), str(out)], env=env))
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    parts = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    idx0, idx1 = parts[0]["idx"], parts[1]["idx"]
    assert (len(idx0), len(idx1)) == (24, 16) and not set(idx0) & set(idx1)  # chunks 0,2,4 vs 1,3
    images = np.random.default_rng(0).integers(0, 256, (40, 3, 8, 8), dtype=np.uint8)
    expected = images.reshape(40, -1).astype(np.float32) / 255.0
    for part in parts:
        np.testing.assert_array_equal(part["feats"], expected[part["idx"]])
