"""Counter-based randomness: every random number is a hash of (image key, stream, position).

A sequential RNG would make image ``i`` depend on how many images were drawn before it. Hashing
instead gives each image its own key derived from ``(seed, i)``, and each random quantity of that
image its own stream number, so ``sample(10, s)`` is exactly a prefix of ``sample(100, s)`` and the
whole batch is drawn with a handful of vectorised numpy operations.
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0**-53


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic is intended)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _stream_key(stream: int) -> np.ndarray:
    """The hashed constant that separates one stream of random numbers from another."""
    return mix64(np.uint64((stream * 0xD6E8FEB86659FD93 + 0x9E3779B97F4A7C15) % 2**64))


def image_keys(seed: int, index: np.ndarray) -> np.ndarray:
    """One uint64 key per image, a function of ``(seed, index)`` only."""
    seed_key = mix64(np.uint64(seed % 2**64) ^ _GOLDEN)
    idx = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return mix64(mix64(idx * _GOLDEN + seed_key) ^ seed_key)


def derive_key(key: np.ndarray, tag: int) -> np.ndarray:
    """A new key family from ``key`` (e.g. to give a generator a process independent of the world)."""
    return mix64(np.asarray(key, dtype=np.uint64) ^ _stream_key(tag + 0x5EED))


def bytes_key(data: bytes) -> int:
    """A uint64 key from arbitrary bytes (a latent vector's bytes)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def uniform(keys: np.ndarray, stream: int) -> np.ndarray:
    """One float64 in ``[0, 1)`` per key, independent across streams."""
    h = mix64(np.asarray(keys, dtype=np.uint64) ^ _stream_key(stream))
    return (h >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def between(keys: np.ndarray, stream: int, low: float, high: float) -> np.ndarray:
    """Uniform in ``[low, high)`` per key."""
    return low + (high - low) * uniform(keys, stream)


def pixel_noise(keys: np.ndarray, stream: int, shape: tuple[int, ...]) -> np.ndarray:
    """Approximately standard-normal float32 noise of ``(n, *shape)``, one independent field per key.

    Each value is one 64-bit hash split into four 16-bit uniforms whose centred sum (Irwin-Hall) is
    close to Gaussian: one hash per value instead of a transcendental Box-Muller.
    """
    count = int(np.prod(shape))
    with np.errstate(over="ignore"):
        pos = np.arange(count, dtype=np.uint64) * _GOLDEN
    base = mix64(np.asarray(keys, dtype=np.uint64) ^ _stream_key(stream))
    with np.errstate(over="ignore"):
        h = mix64(base[:, None] + pos[None, :])
    low16 = np.uint64(0xFFFF)
    total = (h & low16) + ((h >> np.uint64(16)) & low16) + ((h >> np.uint64(32)) & low16) + (h >> np.uint64(48))
    total = total.astype(np.float32) * np.float32(1.0 / 65536.0)  # mean 2, variance 4/12
    return ((total - np.float32(2.0)) * np.float32(np.sqrt(3.0))).reshape((len(keys), *shape))
