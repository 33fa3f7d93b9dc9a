"""Feature extraction with an on-disk, chunked, resumable cache.

Layout: ``<cache_dir>/<key>/chunk-<start>-<stop>.npz`` (one array per extractor output) plus
``meta.json``. ``key`` hashes the source fingerprint, the extractor fingerprint (name, weights hash,
preprocessing, dtype, outputs), the image count and the chunk size. Each chunk is written to a temporary
file and renamed into place, so a chunk file that exists is complete: an interrupted run resumes at the
first missing chunk and, because every chunk is computed from the same images by the same network,
yields the same features as an uninterrupted run. A second run reads every chunk and runs no network.

Sharding: with ``shard=(rank, world_size)`` (or ``"auto"`` under an initialised ``torch.distributed``)
a process computes only chunks ``rank, rank + world_size, ...`` and returns those rows; the returned
``indices`` say which images they are. On a shared cache directory any process can later read all chunks.
With the default ``shard=None`` under an initialised process group (``torchrun``), each rank computes
its share and every rank gets all rows, in image order (:mod:`genlens.distributed`).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from genlens._finite import all_finite
from genlens._fs import atomic_path, default_cache_dir
from genlens._hashing import hash_json
from genlens._json import write_json
from genlens._progress import progress
from genlens.distributed import gather_rows, rank_and_world
from genlens.errors import ConfigError, InputError
from genlens.features.base import FeatureExtractor
from genlens.io.base import ImageSource

DEFAULT_CHUNK = 2048
Shard = tuple[int, int] | Literal["auto"] | None


def feature_cache_dir() -> Path:
    """Default feature cache location (``GENLENS_CACHE``/features)."""
    return default_cache_dir() / "features"


def cache_key(source: ImageSource, extractor: FeatureExtractor, chunk_size: int) -> str:
    """Everything that determines the cached numbers, hashed."""
    return hash_json(
        {
            "source": source.fingerprint(),
            "n": len(source),
            "extractor": extractor.fingerprint(),
            "chunk_size": chunk_size,
        },
        32,
    )


def _resolve_shard(shard: Shard) -> tuple[int, int]:
    if shard is None:
        return 0, 1
    if shard == "auto":
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1
    rank, world = int(shard[0]), int(shard[1])
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"shard must be (rank, world_size) with 0 <= rank < world_size, got {shard}")
    return rank, world


def distributed_chunk_size(n: int, chunk_size: int, batch_size: int, world: int) -> int:
    """Chunks small enough that every rank gets a share, and a multiple of ``batch_size``: chunk starts
    then fall on batch starts, so every image is in the same batch as in one process (same numbers)."""
    per_rank = -(-n // world)
    share = batch_size * max(1, -(-per_rank // batch_size))
    return min(chunk_size, share)


def _chunks(n: int, chunk_size: int, rank: int, world: int) -> list[tuple[int, int]]:
    starts = range(0, n, chunk_size)
    return [(lo, min(lo + chunk_size, n)) for i, lo in enumerate(starts) if i % world == rank]


def _compute_chunk(
    source: ImageSource, extractor: FeatureExtractor, lo: int, hi: int, batch_size: int,
    advance: Callable[[int], None] = lambda k: None,
) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {key: [] for key in extractor.outputs}
    starts = list(range(lo, hi, batch_size))

    def load(start: int) -> torch.Tensor:
        return extractor.prepare(source.read(start, min(start + batch_size, hi)))

    # Read, decode and resize the next batch in a thread while the network runs on this one: image
    # decoding and PIL resizing release the GIL, so the two overlap instead of taking turns.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="genlens-read") as reader:
        pending = reader.submit(load, starts[0]) if starts else None
        for i, start in enumerate(starts):
            batch = pending.result()
            pending = reader.submit(load, starts[i + 1]) if i + 1 < len(starts) else None
            out = extractor.run(batch)
            for key in extractor.outputs:
                parts[key].append(out[key].detach().cpu().numpy())
            advance(len(batch))
    arrays = {key: np.concatenate(value) for key, value in parts.items()}
    for key, value in arrays.items():
        if not all_finite(value):
            raise InputError(
                f"{extractor.name} produced NaN or Inf features ({key}) for images {lo}..{hi - 1}; "
                "check the weights and the input images"
            )
    return arrays


def _write_chunk(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def _read_chunk(path: Path, outputs: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """A finished chunk, or ``None`` if it is unreadable (then it is recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in outputs}
    except (OSError, ValueError, KeyError, EOFError):
        return None


def extract_features(
    source: ImageSource,
    extractor: FeatureExtractor,
    cache_dir: str | Path | Literal[False] | None = None,
    batch_size: int = 64,
    chunk_size: int = DEFAULT_CHUNK,
    outputs: str | list[str] | tuple[str, ...] | None = None,
    shard: Shard = None,
    return_indices: bool = False,
) -> Any:
    """Features of every image of ``source`` (or of this process's shard), cached and resumable.

    ``outputs``: one output name -> a float32 array ``(n, ...)`` (default: the extractor's primary output);
    a list of names -> ``{name: array}``. Every output is cached, so asking for another later is free.
    ``cache_dir=False`` disables the cache. With ``return_indices=True`` the result is
    ``(features, indices)``, the image index of every row.
    """
    if batch_size < 1 or chunk_size < 1:
        raise ConfigError("batch_size and chunk_size must be >= 1")
    if outputs is None:
        names: tuple[str, ...] = (extractor.outputs[0],)
    else:
        names = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    unknown = [name for name in names if name not in extractor.outputs]
    if unknown:
        raise ConfigError(f"{extractor.name} has no output(s) {unknown}; it has {list(extractor.outputs)}")
    n = len(source)
    gather = shard is None and rank_and_world()[1] > 1  # under torchrun: share the work, return every row
    if gather:
        rank, world = rank_and_world()
        chunk_size = distributed_chunk_size(n, chunk_size, batch_size, world)
    else:
        rank, world = _resolve_shard(shard)
    chunks = _chunks(n, chunk_size, rank, world)

    folder: Path | None = None
    if cache_dir is not False:
        folder = Path(cache_dir) if cache_dir is not None else feature_cache_dir()
        folder = folder / cache_key(source, extractor, chunk_size)
        if not (folder / "meta.json").exists():
            write_json(
                folder / "meta.json",
                {"source": source.describe(), "extractor": extractor.describe(), "chunk_size": chunk_size},
            )

    results: list[dict[str, np.ndarray]] = []
    with progress(f"{extractor.name} features", sum(hi - lo for lo, hi in chunks)) as advance:  # per image
        for lo, hi in chunks:
            path = folder / f"chunk-{lo:09d}-{hi:09d}.npz" if folder is not None else None
            arrays = _read_chunk(path, names) if path is not None and path.exists() else None
            if arrays is None:
                computed = _compute_chunk(source, extractor, lo, hi, batch_size, advance)
                if path is not None:
                    _write_chunk(path, computed)
                arrays = {key: computed[key] for key in names}
            else:
                advance(hi - lo)
            results.append(arrays)

    empty = {key: np.zeros((0,), dtype=np.float32) for key in names}
    merged = {key: np.concatenate([r[key] for r in results]) if results else empty[key] for key in names}
    if gather:
        local = np.concatenate([np.arange(lo, hi) for lo, hi in chunks]) if chunks else np.zeros(0, dtype=np.int64)
        merged = gather_rows(merged, local, n)
        chunks = _chunks(n, chunk_size, 0, 1)
    features: Any = merged[names[0]] if isinstance(outputs, str) or outputs is None else merged
    if return_indices:
        indices = np.concatenate([np.arange(lo, hi) for lo, hi in chunks]) if chunks else np.zeros(0, dtype=np.int64)
        return features, indices
    return features
