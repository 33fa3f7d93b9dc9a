"""The atlas layout at 2,000 and 20,000 points: genlens (UMAP on the exact cosine neighbour graph)
beside umap-learn's own NN-descent graph, each in a fresh process as a user's run would be.

Both fit UMAP with the atlas settings (50 neighbours, min_dist 0.05, cosine, 200 epochs) on the same
50-d PCA-reduced activations-like data (clusters of unequal spread); the time includes the numba
compilation every process pays on its first fit. Prints both times and their ratio per size.

    .venv/bin/python benchmarks/bench_layout.py [--sizes 2000,20000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import sys, time, warnings
    import numpy as np
    n, which = int(sys.argv[1]), sys.argv[2]
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(12, 50)) * 3
    values = (centres[rng.integers(0, 12, n)] + rng.normal(size=(n, 50)) * rng.uniform(0.5, 2, (n, 1))).astype(np.float32)
    sets = (np.arange(n) % 2).astype(np.int8)
    start = time.perf_counter()
    if which == "genlens":
        from genlens.atlas.layout import LayoutConfig, fit_layout
        fit_layout(values, sets, LayoutConfig())
    else:
        import umap
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            umap.UMAP(n_neighbors=50, min_dist=0.05, n_epochs=200, metric="cosine", random_state=0,
                      force_approximation_algorithm=True).fit(values)
    print(time.perf_counter() - start)
""")


def timed(n: int, which: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), which], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000")
    args = parser.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        ours, theirs = timed(n, "genlens"), timed(n, "umap-learn")
        print(f"{n:>6} points: genlens exact graph {ours:6.1f} s, umap-learn NN-descent {theirs:6.1f} s "
              f"(ratio {theirs / ours:.2f}x)")


if __name__ == "__main__":
    main()
