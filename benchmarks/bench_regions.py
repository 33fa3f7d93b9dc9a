"""Pixel-wise CKA for 64x64 RGB, 10 batches of 100 images: genlens vs the paper's per-pair algorithm.

The paper's public code computes CKA pixel pair by pixel pair: both N x N RBF Gram matrices are
rebuilt, centred with dense ``H K H`` products and compared with ``trace(K^T L)``. Running that for
all ``d (d - 1) / 2 = 8.4M`` pairs x 10 batches would take days here, so we time a random sample of
pairs (all 10 batches each), check that its values equal ours, and extrapolate linearly.

Run: ``.venv/bin/python benchmarks/bench_regions.py [--pairs 40] [--gemm float32]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from sklearn.metrics.pairwise import rbf_kernel

from genlens.regions.analysis import load_spatial
from genlens.regions.bandwidth import gamma_from_median, median_sq_distance
from genlens.regions.cka import pixel_cka
from genlens.zoo import real_source

SIZE, N_BATCHES, BATCH = 64, 10, 100


def paper_pair_cka(a: np.ndarray, b: np.ndarray, gamma: float) -> float:
    """One pixel pair, one batch, as in the reference notebook: dense centring, trace of a product."""
    n = a.shape[0]
    centering = np.eye(n) - np.ones((n, n)) / n
    ka = centering @ rbf_kernel(a, a, gamma=gamma) @ centering
    kb = centering @ rbf_kernel(b, b, gamma=gamma) @ centering
    return float(np.trace(ka.T @ kb) / (np.linalg.norm(ka) * np.linalg.norm(kb)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40, help="pixel pairs timed for the per-pair baseline")
    parser.add_argument("--gemm", choices=("float64", "float32"), default="float64")
    args = parser.parse_args()

    x, _ = load_spatial(real_source(N_BATCHES * BATCH, seed=0, size=SIZE), "real")
    gamma = gamma_from_median(median_sq_distance(x))
    d = SIZE * SIZE
    print(f"data: {N_BATCHES} x {BATCH} world images, {SIZE}x{SIZE} RGB, d = {d} pixels; "
          f"torch threads = {torch.get_num_threads()}, device = cpu")

    t0, c0 = time.perf_counter(), time.process_time()
    cka = pixel_cka(x, gamma=gamma, batch_size=BATCH, device="cpu",
                    gemm_dtype=torch.float64 if args.gemm == "float64" else torch.float32)
    ours, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"genlens pixel_cka (GEMM {args.gemm}): {ours:.1f} s wall ({cpu:.1f} s CPU over all threads) "
          f"for the whole {d}x{d} matrix; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    rng = np.random.default_rng(0)
    pairs = rng.choice(d, size=(args.pairs, 2))
    sites = x.reshape(x.shape[0], d, 3).numpy()
    t0 = time.perf_counter()
    values = [
        np.mean([paper_pair_cka(sites[s:s + BATCH, p], sites[s:s + BATCH, q], gamma)
                 for s in range(0, N_BATCHES * BATCH, BATCH)])
        for p, q in pairs
    ]
    per_pair = (time.perf_counter() - t0) / args.pairs
    baseline = per_pair * d * (d - 1) / 2
    err = max(abs(v - cka[p, q]) for v, (p, q) in zip(values, pairs))
    print(f"paper per-pair algorithm: {per_pair * 1e3:.2f} ms per pair (10 batches), "
          f"extrapolated to {d * (d - 1) // 2} pairs: {baseline:.0f} s ({baseline / 3600:.1f} h)")
    print(f"max |difference| on the {args.pairs} sampled pairs: {err:.2e}")
    print(f"speed-up: {baseline / ours:.0f}x (target >= 100x; whole matrix target < 60 s: "
          f"{'met' if ours < 60 else 'NOT met'})")


if __name__ == "__main__":
    main()
