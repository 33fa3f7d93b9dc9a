"""A whole ``genlens report`` on two plain folders of 64-px photo crops, stage by stage, at 1k and 10k images.

For each ``--n`` it writes that many real crops and as many crops with a desaturated quadrant (the
zoo's real-photo world) as PNG folders, runs every default view of ``genlens report`` on them with an
empty cache and prints each stage's time and the total; after the first size, each larger one prints
how its time grew against the images (views that read at most 2000 images cap the growth). In the
report the regions stage runs the random VGG16 pass it shares with the atlas, so, as a baseline in
the same run, the atlas is timed alone on the first size at its default and at the literature's
setting (a random VGG16 reading 224-px upsampled copies), and the ratio printed.

    .venv/bin/python benchmarks/bench_report.py [--n 1000,10000] [--size 64] [--baseline/--no-baseline]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_folder(spec: str, folder: Path) -> Path:
    from genlens.zoo.sources import open_zoo_spec

    folder.mkdir(parents=True)
    for i, image in enumerate(open_zoo_spec(spec).read_all().numpy()):
        Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))).save(folder / f"{i:05d}.png")
    return folder


def run(real: Path, fake: Path, out: Path, options: dict | None = None, only: list[str] | None = None) -> dict[str, float]:
    from genlens import api

    times: dict[str, float] = {}
    api.report(str(real), str(fake), out, only=only, options=options,
               on_done=lambda section, seconds: times.__setitem__(section.key, seconds))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1000,10000", help="comma-separated numbers of images per set")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    sizes = [int(part) for part in args.n.split(",") if part.strip()]
    totals: dict[int, float] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            os.environ["GENLENS_CACHE"] = str(root / "cache")  # a new user's empty cache
            real = write_folder(f"zoo:photos?n={n}&size={args.size}", root / "real")
            fake = write_folder(f"zoo:photo_desaturate_region?n={n}&size={args.size}", root / "fake")
            start = time.perf_counter()
            times = run(real, fake, root / "report")
            totals[n] = total = time.perf_counter() - start
            for key, seconds in times.items():
                print(f"  {key:<10} {seconds:7.1f} s")
            print(f"report, {n} + {n} images of {args.size} px: {total:.1f} s", flush=True)
            if n != sizes[0]:
                print(f"  {n / sizes[0]:.0f}x the images of {sizes[0]} in {total / totals[sizes[0]]:.1f}x the time")
            if args.baseline and n == sizes[0]:  # each alone: in the report regions runs the atlas's pass
                alone = run(real, fake, root / "atlas", None, ["atlas"])["atlas"]
                at_224 = run(real, fake, root / "atlas-224", {"atlas": {"input_size": 224}}, ["atlas"])["atlas"]
                print(f"atlas alone: default {alone:.1f} s, random VGG16 at 224 px {at_224:.1f} s "
                      f"(ratio {at_224 / alone:.1f}x)", flush=True)


if __name__ == "__main__":
    main()
