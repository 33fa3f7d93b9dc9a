"""Benchmark of the tracking store and of one logged step.

1. Store: 500 steps x 30 metrics written with ``RunStore.log`` (one transaction per step, WAL) against
   the naive way (one autocommitted INSERT per value, default journal), in the same run.
2. Step: ``Tracker.log`` (metrics + regions, reference built once) for 200 samples against
   recomputing the regions view from scratch (``analyze_regions``: new partition each time), which is
   what a loop calling the one-shot API per checkpoint would do.
3. Atlas placement: placing one step's activations on the frozen map (``AnchoredLayout.place``)
   against ``umap.UMAP.transform`` of the same rows on the same fitted map, and how far apart
   the two put them (in cells of a 20 x 20 grid).

Run: ``.venv/bin/python benchmarks/bench_track.py``
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GENLENS_QUIET", "1")
# reuse the small zoo models the test suite trains (quick classifier features)
os.environ.setdefault("GENLENS_CACHE", str(Path(__file__).resolve().parents[1] / ".genlens-cache" / "test"))

STEPS, METRICS = 500, 30


def bench_store(folder: Path) -> None:
    from genlens.track.store import RunStore

    values = {f"m{j}": float(j) for j in range(METRICS)}
    store = RunStore(folder / "fast.sqlite")
    t0 = time.perf_counter()
    for step in range(STEPS):
        store.log("run", step, values)
    ours = time.perf_counter() - t0

    conn = sqlite3.connect(folder / "naive.sqlite", isolation_level=None)
    conn.execute("CREATE TABLE s (run TEXT, step INT, metric TEXT, value REAL)")
    naive_steps = 20  # one fsync per value is slow enough that a few steps give the rate
    t0 = time.perf_counter()
    for step in range(naive_steps):
        for name, value in values.items():
            conn.execute("INSERT INTO s VALUES (?, ?, ?, ?)", ("run", step, name, value))
    naive = (time.perf_counter() - t0) / naive_steps
    ours /= STEPS
    print(f"store, {METRICS} metrics per step: RunStore {1e3 * ours:.2f} ms/step, naive per-row commits "
          f"{1e3 * naive:.2f} ms/step, ratio {naive / ours:.1f}x", flush=True)


def bench_step(folder: Path) -> None:
    from genlens.regions import analyze_regions, CmsPlan
    from genlens.track import Tracker
    from genlens.zoo import make_generator

    real = "zoo:real?n=500&seed=5"
    t0 = time.perf_counter()
    tracker = Tracker(real, diagnostics=("metrics", "regions"), store=folder / "t.sqlite", n_regions=500, clusters=8,
                      feature_options={"quick": True})
    build = time.perf_counter() - t0
    images = make_generator("clean", seed=3).sample(200, seed=1).images
    tracker.log(0, images, run="warm-up")
    t0 = time.perf_counter()
    for step in range(3):
        tracker.log(step, images, run="bench")
    per_step = (time.perf_counter() - t0) / 3
    from genlens.io import open_source

    real_images = open_source(real).read_all()
    t0 = time.perf_counter()
    analyze_regions(real_images, images, clusters=8, plan=CmsPlan(n_boot=0, floor_splits=0))
    one_shot = time.perf_counter() - t0
    print(f"step: reference built once in {build:.2f} s; Tracker.log {per_step:.2f} s/step (metrics + regions); "
          f"one-shot analyze_regions per checkpoint {one_shot:.2f} s; ratio {one_shot / per_step:.1f}x", flush=True)


def bench_placement() -> None:
    import numpy as np

    from genlens.atlas.layout import AnchoredLayout, LayoutConfig, fit_layout

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(12, 64)) * 4
    real = (centres[rng.integers(0, 12, 2000)] + rng.normal(size=(2000, 64))).astype(np.float32)
    fake = (centres[rng.integers(0, 12, 600)] + rng.normal(size=(600, 64))).astype(np.float32)
    config = LayoutConfig(mode="reference")
    layout, _ = fit_layout(np.r_[real, fake], np.r_[np.zeros(2000, np.int8), np.ones(600, np.int8)], config)
    anchored = AnchoredLayout.fit(real, np.arange(2000), config)
    layout.place(fake[:50])  # numba warm-up
    t0 = time.perf_counter()
    by_umap = layout.place(fake)
    umap_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = anchored.place(fake)
    ours_s = time.perf_counter() - t0
    cell = lambda xy: np.minimum((xy * 20).astype(int), 19)  # noqa: E731
    same = np.mean((cell(ours) == cell(by_umap)).all(axis=1))
    print(f"atlas placement of 600 rows on a 2000-anchor map: AnchoredLayout {1e3 * ours_s:.1f} ms, UMAP transform "
          f"{1e3 * umap_s:.1f} ms, ratio {umap_s / ours_s:.1f}x; same 20x20 cell for {100 * same:.0f}% of rows "
          "(one map, seeded alike; UMAP's transform goes on optimising from the same neighbour-weighted start)",
          flush=True)


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        bench_store(Path(tmp))
        bench_step(Path(tmp))
    bench_placement()
