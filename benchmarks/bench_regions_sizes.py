"""``genlens regions`` on 200 + 200 plain PNG folders at 64, 256 and 1024 px: time and peak memory.

Each size writes 200 real photo crops and 200 crops with a blurred quadrant (the zoo's real-photo
world) as PNG folders and runs ``genlens regions REAL FAKE`` with its defaults (the representation
chosen for that size, 20 bootstrap replicates) in a fresh process, whose peak resident memory
(``VmHWM``) is its own. Prints the time, the peak, its share of the 8 GiB a run of this size may
take, and each size's time against the 64-px run's. Before the bounded representations, 128 px was
killed at 20 GB and 256 px asked for a 34 GB matrix.

    .venv/bin/python benchmarks/bench_regions_sizes.py [--sizes 64,256,1024] [--n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

#: The memory a run of 200 + 200 images of any size may take.
BUDGET_GIB = 8.0

#: The CLI in this process, then its peak resident memory on stderr (atexit runs after typer's exit).
CHILD = r"""
import atexit, runpy, sys
def peak():
    kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print("PEAK_KIB", kib, file=sys.stderr)
atexit.register(peak)
sys.argv = ["genlens", *sys.argv[1:]]
runpy.run_module("genlens", run_name="__main__")
"""


def write_folder(spec: str, folder: Path) -> Path:
    from genlens.zoo.sources import open_zoo_spec

    folder.mkdir(parents=True)
    for i, image in enumerate(open_zoo_spec(spec).read_all().numpy()):
        Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))).save(folder / f"{i:04d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1024")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    first = None
    for size in (int(part) for part in args.sizes.split(",") if part.strip()):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            real = write_folder(f"zoo:photos?n={args.n}&size={size}", root / "real")
            fake = write_folder(f"zoo:photo_blur_region?n={args.n}&size={size}", root / "fake")
            env = {**os.environ, "GENLENS_CACHE": str(root / "cache"), "GENLENS_QUIET": "1"}
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", CHILD, "regions", str(real), str(fake), "--n-boot", "20",
                                   "--json", str(root / "regions.json")], capture_output=True, text=True, env=env)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                print(f"{size:5d} px: failed: {(done.stderr.strip().splitlines() or ['killed'])[-1]}")
                continue
            peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KIB"))
            peak_gib = peak / 2**20
            rep = json.loads((root / "regions.json").read_text()).get("representation", "?")
            first = first or seconds
            print(f"{size:5d} px, {args.n} + {args.n} images, {rep}: {seconds:6.1f} s, peak {peak_gib:.2f} GiB "
                  f"({peak_gib / BUDGET_GIB:.2f} of {BUDGET_GIB:.0f} GiB), {seconds / first:.1f}x the first size's time",
                  flush=True)


if __name__ == "__main__":
    main()
