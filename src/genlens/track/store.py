"""The run store: one SQLite file of ``(run, step, metric) -> value`` rows, safe for concurrent writers.

Several training processes (seeds, ranks) may log into one file at once, so the store uses SQLite's
write-ahead log (readers never block the writer), a generous ``busy_timeout`` (a writer waits for the
lock instead of failing), and one ``BEGIN IMMEDIATE`` transaction per :meth:`RunStore.log` call (a
step's values land together or not at all, so an interrupted process loses nothing already logged).
Rows are keyed by ``(run, step, metric)`` and written with ``INSERT OR REPLACE``: a resumed run that
logs a step again overwrites it instead of duplicating it.

Small per-step arrays (the atlas's per-cell counts, the evidence behind its events) live in a second
table as raw numeric bytes with dtype and shape, never as pickles.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from genlens.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS scalars (
    run TEXT NOT NULL,
    step INTEGER NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    logged_at REAL NOT NULL,
    PRIMARY KEY (run, step, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS arrays (
    run TEXT NOT NULL,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    dtype TEXT NOT NULL,
    shape TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run, step, name)
) WITHOUT ROWID;
"""
#: Array dtypes the store keeps (raw little-endian bytes; never pickled).
ARRAY_DTYPES = ("<f8", "<f4", "<i8", "<i4")
BUSY_TIMEOUT_MS = 60_000

#: ``{run: {metric: [(step, value), ...]}}`` with steps ascending.
Series = dict[str, dict[str, list[tuple[int, float]]]]


class RunStore:
    """Append-mostly scalar store in one SQLite file (created on first use).

    A connection is opened per process (it is re-opened after a ``fork``), so one ``RunStore`` object may
    be shared with DataLoader workers or multiprocessing children without sharing a SQLite handle.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        if self.path.exists() and not self.path.is_file():
            raise InputError(f"track store {self.path} exists and is not a file; give a path like runs/track.sqlite")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._ensure_schema()

    # -- connection handling ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                _retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.DatabaseError as err:
                raise InputError(f"track store {self.path} is not a usable SQLite file: {err}") from err
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _ensure_schema(self) -> None:
        with self._transaction() as conn:
            for statement in filter(str.strip, SCHEMA.split(";")):
                conn.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` takes the write lock up front, so two writers never deadlock on upgrade."""
        conn = self._connect()
        _retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:  # picklable for multiprocessing: the path only
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self._conn, self._pid = state["path"], None, -1

    # -- writing -------------------------------------------------------------------------------------
    def log(self, run: str, step: int, values: Mapping[str, float],
            arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Write one step's values (and ``arrays``) in one transaction, replacing what that step had."""
        run, step = _check_key(run, step)
        blobs = [(run, step, name, *_encode(name, array)) for name, array in (arrays or {}).items()]
        rows = []
        for metric, value in values.items():
            if not isinstance(metric, str) or not metric:
                raise InputError(f"metric names must be non-empty strings, got {metric!r}")
            number = float(value)
            rows.append((run, step, metric, number if math.isfinite(number) else None, time.time()))
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO scalars (run, step, metric, value, logged_at) VALUES (?, ?, ?, ?, ?)", rows
            )
            if blobs:
                conn.executemany(
                    "INSERT OR REPLACE INTO arrays (run, step, name, dtype, shape, data) VALUES (?, ?, ?, ?, ?, ?)", blobs
                )

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def record_directions(self, directions: Mapping[str, bool | None]) -> None:
        """Remember which way each metric is better (``None``: not judged), for events read later.

        The views that measured a value know its direction; a report made from the store alone (another
        process, another day) reads it from here. Merged in one transaction, so concurrent writers of
        different views do not lose each other's entries.
        """
        known = self.directions()
        if all(name in known and known[name] == d for name, d in directions.items()):
            return
        with self._transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'directions'").fetchone()
            merged = {**(json.loads(row[0]) if row else {}), **dict(directions)}
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('directions', ?)", (json.dumps(merged),))

    # -- reading -------------------------------------------------------------------------------------
    def directions(self) -> dict[str, bool | None]:
        """Which way each logged metric is better (``None``: not judged); see :meth:`record_directions`."""
        text = self.get_meta("directions")
        return json.loads(text) if text else {}

    def get_meta(self, key: str) -> str | None:
        row = self._connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def runs(self) -> list[str]:
        return [r[0] for r in self._connect().execute("SELECT DISTINCT run FROM scalars ORDER BY run")]

    def metrics(self) -> list[str]:
        return [r[0] for r in self._connect().execute("SELECT DISTINCT metric FROM scalars ORDER BY metric")]

    def steps(self, run: str) -> list[int]:
        query = "SELECT DISTINCT step FROM scalars WHERE run = ? ORDER BY step"
        return [int(r[0]) for r in self._connect().execute(query, (run,))]

    def count(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM scalars").fetchone()[0])

    def series(self, runs: list[str] | None = None, metrics: list[str] | None = None) -> Series:
        """Every stored value as ``{run: {metric: [(step, value), ...]}}``; missing values are NaN."""
        query, params = "SELECT run, metric, step, value FROM scalars", []
        clauses = []
        for column, wanted in (("run", runs), ("metric", metrics)):
            if wanted is not None:
                clauses.append(f"{column} IN ({', '.join('?' * len(wanted))})")
                params.extend(wanted)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY run, metric, step"
        out: Series = {}
        for run, metric, step, value in self._connect().execute(query, params):
            out.setdefault(run, {}).setdefault(metric, []).append((int(step), math.nan if value is None else value))
        return out


    def arrays(self, run: str, name: str) -> dict[int, np.ndarray]:
        """``{step: array}`` of one logged array of ``run``, steps ascending."""
        query = "SELECT step, dtype, shape, data FROM arrays WHERE run = ? AND name = ? ORDER BY step"
        return {int(step): _decode(dtype, shape, data)
                for step, dtype, shape, data in self._connect().execute(query, (run, name))}

    def array_names(self, run: str | None = None) -> list[str]:
        query, params = "SELECT DISTINCT name FROM arrays", ()
        if run is not None:
            query, params = query + " WHERE run = ?", (run,)
        return sorted(r[0] for r in self._connect().execute(query, params))


def _encode(name: str, array: np.ndarray) -> tuple[str, str, bytes]:
    if not isinstance(name, str) or not name:
        raise InputError(f"array names must be non-empty strings, got {name!r}")
    a = np.asarray(array)
    kind = {"f": "<f8", "i": "<i8", "u": "<i8", "b": "<i8"}.get(a.dtype.kind)
    if kind is None:
        raise InputError(f"array {name!r} must be numeric, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=kind)
    return kind, json.dumps(list(a.shape)), a.tobytes()


def _decode(dtype: str, shape: str, data: bytes) -> np.ndarray:
    if dtype not in ARRAY_DTYPES:
        raise InputError(f"the track store holds an array of unsupported dtype {dtype!r}")
    return np.frombuffer(data, dtype=dtype).reshape(json.loads(shape)).copy()


def _check_key(run: Any, step: Any) -> tuple[str, int]:
    if not isinstance(run, str) or not run.strip():
        raise InputError(f"run must be a non-empty name such as 'seed-3', got {run!r}")
    if isinstance(step, bool) or not isinstance(step, (int,)) and not hasattr(step, "__index__"):
        raise InputError(f"step must be an integer (an epoch or iteration number), got {step!r}")
    return run, int(step)


def _retry(action: Any, attempts: int = 50) -> Any:
    """Retry ``action`` while SQLite reports a lock (switching to WAL can race with another opener)."""
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    return None
