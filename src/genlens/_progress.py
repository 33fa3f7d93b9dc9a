"""One progress style for every long loop: a rich bar on a terminal, plain periodic lines in a log.

Someone watching a terminal gets a bar; a job whose stderr goes to a file (a cluster's log, CI) gets a
line every :data:`LOG_EVERY` seconds and one at the end, so a long step never looks hung. Both are
silenced by ``GENLENS_QUIET=1``. Loops advance by their own unit (images, not chunks of 600 images).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Seconds between two plain progress lines when stderr is not a terminal.
LOG_EVERY = 15.0


def quiet() -> bool:
    """``GENLENS_QUIET`` set to anything but empty or 0."""
    return os.environ.get("GENLENS_QUIET", "") not in ("", "0")


def progress_enabled() -> bool:
    """A bar only when someone is watching: a TTY on stderr and not silenced."""
    return not quiet() and sys.stderr.isatty()


@contextlib.contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(k)``: a bar on a terminal, plain lines off it, nothing when quiet."""
    if quiet():
        yield lambda k=1: None
        return
    if sys.stderr.isatty():
        with _bar(description, total) as advance:
            yield advance
        return
    with _lines(description, total) as advance:
        yield advance


@contextlib.contextmanager
def _bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda k=1: bar.advance(task, k)


@contextlib.contextmanager
def _lines(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    start = last = time.monotonic()
    done = 0

    def line() -> str:
        elapsed = time.monotonic() - start
        of = f"/{total} ({100 * done / total:.0f}%)" if total else ""
        return f"{description}: {done}{of}, {elapsed:.0f} s"

    def advance(k: int = 1) -> None:
        nonlocal done, last
        done += k
        now = time.monotonic()
        if now - last >= LOG_EVERY:
            last = now
            print(line(), file=sys.stderr, flush=True)

    yield advance
    if time.monotonic() - start >= LOG_EVERY:  # a step short enough to need no line gets none at the end
        print(line() + " -- done", file=sys.stderr, flush=True)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with progress (see :func:`progress`), one unit per item."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(description, total) as advance:
        for item in items:
            yield item
            advance(1)
