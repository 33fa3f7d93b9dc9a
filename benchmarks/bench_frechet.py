"""Fréchet distance at d=2048: genlens (Cholesky + eigvalsh) vs pytorch-fid (scipy sqrtm), same run.

Both get the same float64 means and covariances of non-negative, correlated features (like
Inception pool features); only the distance computation is timed. Prints each time, the speed
ratio and the relative difference of the two results.

    .venv/bin/python benchmarks/bench_frechet.py [--dim 2048] [--n 4096] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from genlens.metrics import GaussianStats, frechet_distance


def _features(rng: np.random.Generator, n: int, d: int, shift: float) -> np.ndarray:
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return np.maximum(rng.standard_normal((n, d)) @ mix + shift, 0.0)


def _best_time(fn, repeats: int) -> tuple[float, float, object]:
    """Best wall-clock and CPU seconds over ``repeats`` calls (CPU time is the fairer number on a
    shared machine, where wall time depends on the other processes)."""
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    a, b = _features(rng, args.n, args.dim, 0.3), _features(rng, args.n, args.dim, 0.35)
    stats_a = GaussianStats.from_features(a, device="cpu")
    stats_b = GaussianStats.from_features(b, device="cpu")
    mu_a, mu_b = stats_a.mean.numpy(), stats_b.mean.numpy()
    sigma_a, sigma_b = stats_a.covariance().numpy(), stats_b.covariance().numpy()
    print(f"d={args.dim}, n={args.n} per set, torch threads={torch.get_num_threads()}")

    ours_s, ours_cpu, ours = _best_time(lambda: frechet_distance(stats_a, stats_b, device="cpu"), args.repeats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy's `disp`, passed by pytorch-fid
        peer_s, peer_cpu, peer = _best_time(lambda: calculate_frechet_distance(mu_a, sigma_a, mu_b, sigma_b), 1)
    rel = abs(ours.value - float(peer)) / abs(float(peer))
    print(f"pytorch-fid (scipy sqrtm): {peer_s:8.3f} s wall {peer_cpu:8.3f} s CPU   FD = {float(peer):.10g}")
    print(f"genlens (cpu, float64):    {ours_s:8.3f} s wall {ours_cpu:8.3f} s CPU   FD = {ours.value:.10g}  "
          f"(mean {ours.mean_term:.6g} + covariance {ours.covariance_term:.6g}, {ours.sqrt_method})")
    print(f"speed ratio: {peer_s / ours_s:.1f}x (wall), {peer_cpu / ours_cpu:.1f}x (CPU)   "
          f"relative difference: {rel:.2e}")
    if torch.cuda.is_available():
        gpu_a, gpu_b = stats_a.to("cuda"), stats_b.to("cuda")
        frechet_distance(gpu_a, gpu_b)  # warm-up: CUDA context and cuSOLVER handles
        torch.cuda.synchronize()
        gpu_s, _, gpu = _best_time(lambda: frechet_distance(gpu_a, gpu_b), args.repeats)
        print(f"genlens (cuda, float64):   {gpu_s:8.3f} s   FD = {gpu.value:.10g}  "
              f"speed ratio {peer_s / gpu_s:.1f}x, "
              f"relative difference {abs(gpu.value - float(peer)) / float(peer):.2e}")


if __name__ == "__main__":
    main()
