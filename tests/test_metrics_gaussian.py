"""GaussianStats: exact merging across batches and processes, numerical stability, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from genlens.errors import InputError, TooFewSamplesError
from genlens.metrics import GaussianStats


def _cov(stats: GaussianStats) -> np.ndarray:
    return stats.covariance().cpu().numpy()


def test_merge_of_uneven_chunks_equals_whole(rng: np.random.Generator) -> None:
    x = rng.standard_normal((257, 12)) @ rng.standard_normal((12, 12)) + 3.0
    cuts = [0, 1, 40, 41, 200, 257]
    parts = [GaussianStats.from_features(x[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    merged = GaussianStats.empty(12)
    for p in parts:
        merged = merged.merge(p)
    reverse = GaussianStats.empty(12)
    for p in reversed(parts):
        reverse = reverse.merge(p)
    for stats in (merged, reverse):
        assert stats.n == 257
        np.testing.assert_allclose(stats.mean.numpy(), x.mean(0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(_cov(stats), np.cov(x, rowvar=False), rtol=1e-11, atol=1e-12)


def test_batch_size_and_update_do_not_change_the_result(rng: np.random.Generator) -> None:
    x = rng.standard_normal((100, 7))
    whole = GaussianStats.from_features(x, batch_size=1000)
    tiny = GaussianStats.from_features(x, batch_size=3)
    streamed = GaussianStats.empty(7)
    for start in range(0, 100, 16):
        streamed = streamed.update(x[start:start + 16])
    for stats in (tiny, streamed):
        np.testing.assert_allclose(_cov(stats), _cov(whole), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(stats.mean.numpy(), whole.mean.numpy(), rtol=1e-12, atol=1e-13)


def test_stable_where_the_one_pass_formula_fails(rng: np.random.Generator) -> None:
    # A large offset: sum(x xᵀ) − n μ μᵀ cancels catastrophically; centred sums do not.
    x = 1e8 + rng.standard_normal((2000, 3))
    reference = np.cov(x - x.mean(0), rowvar=False)  # exact enough: centred before squaring
    one_pass = (x.T @ x - len(x) * np.outer(x.mean(0), x.mean(0))) / (len(x) - 1)
    assert np.abs(one_pass - reference).max() > 1e-2  # the trap is real in this setting
    ours = _cov(GaussianStats.from_features(x, batch_size=128))
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-6)


def test_save_load_roundtrip(tmp_path: Path, rng: np.random.Generator) -> None:
    stats = GaussianStats.from_features(rng.standard_normal((30, 5)))
    path = tmp_path / "ref" / "stats.npz"
    stats.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["stats.npz"]  # no temp file left behind
    loaded = GaussianStats.load(path, device="cpu")
    assert loaded.n == 30
    assert torch.equal(loaded.mean, stats.mean) and torch.equal(loaded.m2, stats.m2)


def test_load_rejects_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        GaussianStats.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", mu=np.zeros(3), sigma=np.eye(3))
    with pytest.raises(InputError, match="not a genlens GaussianStats file"):
        GaussianStats.load(tmp_path / "other.npz")


def test_from_moments_and_errors() -> None:
    stats = GaussianStats.from_moments(np.array([1.0, 2.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), n=11)
    np.testing.assert_allclose(_cov(stats), [[2.0, 0.5], [0.5, 1.0]])
    with pytest.raises(InputError, match="not symmetric"):
        GaussianStats.from_moments(np.zeros(2), np.array([[1.0, 2.0], [0.0, 1.0]]), n=5)
    with pytest.raises(TooFewSamplesError, match="at least 2"):
        GaussianStats.from_features(np.ones((1, 2))).covariance()
    with pytest.raises(InputError, match="dimension mismatch"):
        GaussianStats.empty(2).merge(GaussianStats.empty(3))
    with pytest.raises(InputError, match="NaN or Inf"):
        GaussianStats.from_features(np.array([[1.0, np.inf], [0.0, 1.0]]))


def _distributed_worker(rank: int, world: int, init_file: str, features: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        shard = np.load(features)[rank::world]  # uneven shards: 151 and 150 rows
        local = GaussianStats.from_features(shard, batch_size=37, device="cpu")
        local.all_reduce().save(Path(out_dir) / f"rank{rank}.npz")
        # A rank with nothing to contribute (e.g. more ranks than batches) must not disturb the result.
        partial = GaussianStats.empty(shard.shape[1], device="cpu") if rank else local
        partial.all_reduce().save(Path(out_dir) / f"partial{rank}.npz")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_all_reduce_over_two_processes_equals_one_process(tmp_path: Path, rng: np.random.Generator) -> None:
    x = rng.standard_normal((301, 9)) * np.arange(1, 10) + 5.0
    np.save(tmp_path / "features.npy", x)
    mp.spawn(_distributed_worker, args=(2, str(tmp_path / "init"), str(tmp_path / "features.npy"), str(tmp_path)),
             nprocs=2, join=True)
    ranks = [GaussianStats.load(tmp_path / f"rank{r}.npz", device="cpu") for r in range(2)]
    single = GaussianStats.from_features(x, device="cpu")
    assert ranks[0].n == ranks[1].n == 301
    assert torch.equal(ranks[0].m2, ranks[1].m2) and torch.equal(ranks[0].mean, ranks[1].mean)
    np.testing.assert_allclose(ranks[0].mean.numpy(), single.mean.numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(_cov(ranks[0]), _cov(single), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_cov(ranks[0]), np.cov(x, rowvar=False), rtol=1e-12, atol=1e-12)
    for r in range(2):
        partial = GaussianStats.load(tmp_path / f"partial{r}.npz", device="cpu")
        assert partial.n == 151
        np.testing.assert_allclose(_cov(partial), np.cov(x[0::2], rowvar=False), rtol=1e-12, atol=1e-12)
