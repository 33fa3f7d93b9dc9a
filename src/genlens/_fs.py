"""Atomic file writes: a reader never sees a half-written cache entry, report or store file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only if the block succeeds.

    The temporary file lives in the same directory so the final ``os.replace`` is atomic on POSIX.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_UMASK)  # mkstemp's 0600 would make reports and caches private to their writer
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


#: Read once at import: ``os.umask`` can only be read by setting it, which is not thread-safe.
_UMASK = _read_umask()


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically and return the path."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def default_cache_dir() -> Path:
    """Where genlens keeps features, weights and trained zoo models (``GENLENS_CACHE`` overrides)."""
    env = os.environ.get("GENLENS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "genlens"


@contextlib.contextmanager
def exclusive_lock(target: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``<target>.lock`` for the block (POSIX ``flock``).

    Wrap check-then-create of an expensive cache entry in it, so concurrent processes make the entry
    once: the second waits, then finds the first's file."""
    import fcntl

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
