"""The run store: idempotent keys, atomic steps, and four processes writing one file at once."""

from __future__ import annotations

import math
import multiprocessing as mp
import sqlite3

import pytest

from genlens.errors import InputError
from genlens.track.store import RunStore

STEPS = 200


def _writer(path: str, run: str, steps: int, barrier: "mp.synchronize.Barrier") -> None:
    store = RunStore(path)
    barrier.wait()  # all four start writing at the same moment
    for step in range(steps):
        store.log(run, step, {"loss": float(step)})
    store.close()


def test_four_processes_logging_at_once_lose_no_row(tmp_path):
    path = str(tmp_path / "track.sqlite")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_writer, args=(path, f"seed-{i}", STEPS, barrier)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = RunStore(path)
    assert store.count() == 4 * STEPS
    series = store.series()
    assert sorted(series) == [f"seed-{i}" for i in range(4)]
    for run in series:
        assert series[run]["loss"] == [(s, float(s)) for s in range(STEPS)]
    # the file really is in write-ahead-log mode (what lets readers run beside the writers)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_relogging_a_step_replaces_it_and_a_new_process_resumes(tmp_path):
    path = tmp_path / "s.sqlite"
    with RunStore(path) as store:
        store.log("a", 0, {"x": 1.0, "y": 2.0})
        store.log("a", 1, {"x": 3.0})
    with RunStore(path) as again:  # a resumed process repeats step 1
        again.log("a", 1, {"x": 4.0})
        again.log("a", 2, {"x": 5.0})
        assert again.count() == 4
        assert again.series()["a"]["x"] == [(0, 1.0), (1, 4.0), (2, 5.0)]
        assert again.steps("a") == [0, 1, 2]


def test_a_failed_step_writes_nothing(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    with pytest.raises((TypeError, ValueError)):
        store.log("a", 0, {"x": 1.0, "y": "not a number"})
    assert store.count() == 0


def test_non_finite_values_are_stored_as_missing(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    store.log("a", 0, {"x": float("nan")})
    assert math.isnan(store.series()["a"]["x"][0][1])


@pytest.mark.parametrize("run, step", [("", 0), ("a", "one"), ("a", True), (3, 0)])
def test_bad_keys_are_refused(tmp_path, run, step):
    with pytest.raises(InputError):
        RunStore(tmp_path / "s.sqlite").log(run, step, {"x": 1.0})


def test_a_folder_or_garbage_file_is_refused(tmp_path):
    with pytest.raises(InputError):
        RunStore(tmp_path)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError):
        RunStore(bad)


def test_arrays_round_trip_with_their_step_and_never_as_pickles(tmp_path):
    import numpy as np

    store = RunStore(tmp_path / "track.sqlite")
    counts = np.arange(12).reshape(3, 4)
    store.log("a", 0, {"js": 0.1}, arrays={"atlas/block4/counts": counts})
    store.log("a", 1, {"js": 0.2}, arrays={"atlas/block4/counts": counts * 2.5})
    store.log("a", 1, {"js": 0.3}, arrays={"atlas/block4/counts": counts + 1})  # re-logging replaces
    got = RunStore(store.path).arrays("a", "atlas/block4/counts")
    assert sorted(got) == [0, 1]
    np.testing.assert_array_equal(got[0], counts)
    np.testing.assert_array_equal(got[1], counts + 1)
    assert got[0].dtype == np.int64 and got[1].shape == (3, 4)
    assert store.array_names() == ["atlas/block4/counts"]
    with pytest.raises(InputError, match="numeric"):
        store.log("a", 2, {"js": 0.4}, arrays={"bad": np.array(["x"], dtype=object)})
    assert store.steps("a") == [0, 1]  # the refused step wrote no scalar either
