"""How fast the planted-defect world renders, batched versus one image at a time.

Run: ``.venv/bin/python benchmarks/bench_zoo_world.py``. Prints images/s for the batched renderer at
32 and 64 px (one torch/numpy thread), for a defective generator, and the ratio against rendering the
same images one call per image (the baseline a per-image procedural renderer would have).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from genlens.zoo import World, make_generator  # noqa: E402


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    n = 2000
    for size in (32, 64):
        world = World(size)
        world.sample(100)  # warm-up
        batched = best_of(lambda: world.sample(n, seed=1))
        n_single = 200
        single = best_of(lambda: [world.sample_at(np.array([i]), seed=1) for i in range(n_single)], repeats=1)
        per_image_batched, per_image_single = batched / n, single / n_single
        print(
            f"world {size}px: batched {batched:.3f} s for {n} images ({n / batched:,.0f} images/s); "
            f"one at a time {per_image_single * 1e3:.2f} ms/image ({1 / per_image_single:,.0f} images/s); "
            f"speed-up x{per_image_single / per_image_batched:.1f}"
        )
    gen = make_generator("blur_region", size=32)
    clean = best_of(lambda: World(32).sample(n, seed=1))
    blurred = best_of(lambda: gen.sample(n, seed=1))
    print(f"blur_region 32px: {blurred:.3f} s for {n} images ({n / blurred:,.0f} images/s), x{blurred / clean:.2f} the clean world")


if __name__ == "__main__":
    main()
