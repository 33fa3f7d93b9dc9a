"""FD, KID and PRDC on precomputed features: genlens vs pytorch-fid, torch-fidelity and prdc, same run.

Each (metric, library) runs in its own fresh process on the same float32 feature files (non-negative,
correlated, like Inception's 2048-d pool features), so its wall time and its peak resident memory
(``VmHWM``: loading the features included, for both sides alike) are its own. Prints one line per
run and, per metric, the speed ratio peer / genlens and the relative difference of the values. A
peer whose known memory need (prdc holds three full ``n x n`` distance matrices) exceeds what the
machine has is skipped with one line saying so, not run into the allocator.

    .venv/bin/python benchmarks/bench_metrics_peers.py [--n 10000 20000 50000] [--dim 2048] [--metrics fd kid prdc]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: One child per run: load the two feature files, time the metric, report value, seconds and peak RSS.
CHILD = r"""
import json, sys, time
import numpy as np
metric, lib, path_a, path_b = sys.argv[1:5]
a, b = np.load(path_a), np.load(path_b)
t0 = time.perf_counter()
if (metric, lib) == ("fd", "genlens"):
    from genlens.metrics import frechet_distance
    value = frechet_distance(a, b, device="cpu").value
elif (metric, lib) == ("fd", "pytorch-fid"):
    from pytorch_fid.fid_score import calculate_frechet_distance
    import warnings
    warnings.simplefilter("ignore")
    value = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
elif (metric, lib) == ("kid", "genlens"):
    from genlens.metrics import kid
    value = kid(a, b, subsets=100, subset_size=1000, seed=2020, device="cpu").mean
elif (metric, lib) == ("kid", "torch-fidelity"):
    import torch
    from torch_fidelity.metric_kid import kid_features_to_metric
    value = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=100,
                                   kid_subset_size=1000, rng_seed=2020, verbose=False)["kernel_inception_distance_mean"]
elif (metric, lib) == ("prdc", "genlens"):
    from genlens.metrics import prdc
    r = prdc(a, b, k=5, device="cpu")
    value = [r.precision, r.recall, r.density, r.coverage]
elif (metric, lib) == ("prdc", "prdc"):
    from prdc import compute_prdc
    r = compute_prdc(real_features=a, fake_features=b, nearest_k=5)
    value = [float(r[k]) for k in ("precision", "recall", "density", "coverage")]
else:
    raise SystemExit(f"unknown run {metric} {lib}")
seconds = time.perf_counter() - t0
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"value": value, "seconds": seconds, "peak_gib": peak_kib / 2**20}))
"""

PEERS = {"fd": "pytorch-fid", "kid": "torch-fidelity", "prdc": "prdc"}


def features(rng: np.random.Generator, n: int, d: int, shift: float, mix: np.ndarray) -> np.ndarray:
    """Non-negative correlated float32 features, made in chunks (no n x d float64 copy)."""
    out = np.empty((n, d), dtype=np.float32)
    for i in range(0, n, 4096):
        chunk = rng.standard_normal((min(4096, n - i), d)) @ mix + shift
        out[i:i + len(chunk)] = np.maximum(chunk, 0.0)
    return out


def available_gib() -> float:
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable"):
            return int(line.split()[1]) / 2**20
    return float("inf")


def peer_need_gib(metric: str, n: int, d: int) -> float:
    """What the peer is known to hold at once: prdc three n x n float32 matrices, the others ~4 copies."""
    if metric == "prdc":
        return 3 * n * n * 4 / 2**30
    return 4 * n * d * 8 / 2**30


def run(metric: str, lib: str, path_a: Path, path_b: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, metric, lib, str(path_a), str(path_b)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def relative_difference(ours: object, peer: object) -> float:
    a, b = np.atleast_1d(np.asarray(ours, dtype=float)), np.atleast_1d(np.asarray(peer, dtype=float))
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10000, 20000, 50000],
                        help="samples per set (several: one run each)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--metrics", nargs="+", default=["fd", "kid", "prdc"], choices=list(PEERS))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((args.dim, args.dim)) / np.sqrt(args.dim)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.n:
            t0 = time.perf_counter()
            path_a, path_b = Path(tmp, f"a{n}.npy"), Path(tmp, f"b{n}.npy")
            np.save(path_a, features(rng, n, args.dim, 0.30, mix))
            np.save(path_b, features(rng, n, args.dim, 0.35, mix))
            print(f"n = {n} per set, d = {args.dim}, float32 features ({time.perf_counter() - t0:.0f} s to make)")
            for metric in args.metrics:
                peer = PEERS[metric]
                ours = run(metric, "genlens", path_a, path_b)
                need = peer_need_gib(metric, n, args.dim)
                if need > 0.8 * available_gib():
                    theirs = {"error": f"skipped: needs about {need:.0f} GiB, the machine has {available_gib():.0f} "
                                       "GiB available"}
                else:
                    theirs = run(metric, peer, path_a, path_b)
                for lib, r in (("genlens", ours), (peer, theirs)):
                    if "error" in r:
                        print(f"  {metric:5s} {lib:15s} {r['error']}")
                    else:
                        print(f"  {metric:5s} {lib:15s} {r['seconds']:8.1f} s  peak {r['peak_gib']:5.2f} GiB  "
                              f"value {np.round(r['value'], 6).tolist()}")
                if "error" not in ours and "error" not in theirs:
                    print(f"  {metric:5s} ratio {peer} / genlens: {theirs['seconds'] / ours['seconds']:.2f}x time, "
                          f"{theirs['peak_gib'] / ours['peak_gib']:.2f}x memory; relative difference "
                          f"{relative_difference(ours['value'], theirs['value']):.1e}")


if __name__ == "__main__":
    main()
