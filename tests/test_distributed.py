"""Many processes, one result: sharded extraction gathers exactly, and ``torchrun`` gives one process's numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genlens.distributed import OUTPUT_FLAGS, rank_argv
from genlens.features.cache import distributed_chunk_size, extract_features
from genlens.features.simple import PixelExtractor
from genlens.io.arrays import ArraySource

N_IMAGES = 150


def _images(seed: int, n: int = N_IMAGES, size: int = 16) -> np.ndarray:
    """Smooth random images with a bright square whose place varies: structure for regions to find."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (n, 3, 1, 1)) + rng.normal(0, 12, (n, 3, size, size))
    for i, (r, c) in enumerate(rng.integers(0, size - 6, (n, 2))):
        base[i, :, r:r + 6, c:c + 6] += 50
    return np.clip(base, 0, 255).astype(np.uint8)


class CountingPixels(PixelExtractor):
    """Pixels, counting how many images this process ran through the network."""

    seen = 0

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        CountingPixels.seen += len(images)
        return super().forward(images)


def _rank(rank: int, world: int, init: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        features = extract_features(ArraySource(_images(0)), CountingPixels(), cache_dir=False, batch_size=32)
        np.save(Path(out, f"rank{rank}.npy"), features)
        Path(out, f"rank{rank}.seen").write_text(str(CountingPixels.seen))
    finally:
        dist.destroy_process_group()


def test_sharded_extraction_gathers_every_row_in_order(tmp_path: Path) -> None:
    """Two gloo ranks each run the network on their share only, and both get one process's array."""
    import torch.multiprocessing as mp

    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_rank, args=(2, init, str(tmp_path)), nprocs=2, join=True)
    single = extract_features(ArraySource(_images(0)), PixelExtractor(), cache_dir=False, batch_size=32)
    seen = [int(Path(tmp_path, f"rank{r}.seen").read_text()) for r in range(2)]
    chunk = distributed_chunk_size(N_IMAGES, 2048, 32, 2)
    assert seen == [chunk, N_IMAGES - chunk] and 0 < seen[1] < seen[0]
    for r in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"rank{r}.npy"), single)


def test_distributed_chunks_fall_on_batch_starts() -> None:
    assert distributed_chunk_size(150, 2048, 32, 2) == 96
    assert distributed_chunk_size(10_000, 2048, 64, 2) == 2048  # large sets keep the cache's chunks
    assert distributed_chunk_size(10, 2048, 64, 4) == 64
    for n, world in [(1000, 3), (333, 2), (65, 8)]:
        assert distributed_chunk_size(n, 2048, 64, world) % 64 == 0


def test_only_rank_zero_writes_outputs() -> None:
    argv = ["regions", "a", "b", "--json", "r.json", "--out=figs", "-k", "4", "-o", "x.npz", "--n", "8"]
    assert rank_argv(argv, "/scratch") == ["regions", "a", "b", "--json", "/scratch/out-4", "--out=/scratch/out-5",
                                           "-k", "4", "-o", "/scratch/out-9", "--n", "8"]
    assert {"--out", "--json", "--output", "-o"} == set(OUTPUT_FLAGS)


def _write_pngs(folder: Path, images: np.ndarray) -> None:
    from PIL import Image

    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{i:04d}.png")


@pytest.mark.slow
def test_torchrun_gives_one_process_numbers(tmp_path: Path) -> None:
    """``torchrun --nproc_per_node 2 -m genlens`` (gloo, CPU) on plain PNG folders: the metrics and the
    regions partition equal one process's, and only rank 0 wrote results."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    real, fake = tmp_path / "real", tmp_path / "fake"
    _write_pngs(real, _images(0))
    fake_images = _images(1)
    fake_images[:, :, :8, :8] = fake_images[:, :, :8, :8] // 2  # a darker quadrant, for regions to see
    _write_pngs(fake, fake_images)
    env = {**os.environ, "GENLENS_QUIET": "1", "OMP_NUM_THREADS": "1", "GENLENS_CACHE": str(tmp_path / "cache")}
    jobs = {
        "metrics": ["metrics", str(real), str(fake), "--features", "pixels", "--metrics", "fid,kid,prdc,mmd",
                    "--n-boot", "0", "--batch-size", "32"],
        "regions": ["regions", str(real), str(fake), "--representation", "random-vgg16:features.3", "-k", "3",
                    "--n-boot", "0"],
    }
    results = {}
    for mode in ("single", "torchrun"):
        for name, args in jobs.items():
            out = tmp_path / f"{mode}-{name}.json"
            prefix = [sys.executable, "-m", "genlens"] if mode == "single" else \
                [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "genlens"]
            done = subprocess.run([*prefix, *args, "--json", str(out)], env=env, capture_output=True, text=True, check=False,
                                  timeout=600)
            assert done.returncode == 0, done.stderr[-3000:]
            results[mode, name] = json.loads(out.read_text())
    single, multi = results["single", "metrics"]["metrics"], results["torchrun", "metrics"]["metrics"]
    assert single["fid"]["value"] > 0
    for name, entry in single.items():
        assert multi[name]["value"] == pytest.approx(entry["value"], rel=1e-9, abs=1e-12), name
    part = [results[mode, "regions"]["partition"]["labels"] for mode in ("single", "torchrun")]
    assert part[0] == part[1] and len(set(np.ravel(part[0]).tolist())) == 3
    cms = [results[mode, "regions"]["cms"] for mode in ("single", "torchrun")]
    assert cms[1]["image"] == pytest.approx(cms[0]["image"], rel=1e-9)
    assert [c["cms"] for c in cms[1]["clusters"]] == pytest.approx([c["cms"] for c in cms[0]["clusters"]], rel=1e-9)
    assert sorted(p.name for p in tmp_path.glob("torchrun-*.json")) == ["torchrun-metrics.json", "torchrun-regions.json"]
