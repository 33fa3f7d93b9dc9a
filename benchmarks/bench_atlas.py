"""End-to-end cost of the activation atlas, stage by stage, so the bottleneck is visible.

Default: 2 x 20,000 activations of 256-d (5,000 world images per set, 4 positions each, ResNet-18
with seeded random weights read at ``layer3`` on 64 px inputs), then PCA+UMAP, binning with
statistics on grids 20/40/80, and icons for the 20-grid -- batched, against a one-cell-at-a-time
loop on a few cells in the same run (icons/s).

    .venv/bin/python benchmarks/bench_atlas.py [--images 5000] [--positions 4] [--steps 16]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--positions", type=int, default=4)
    parser.add_argument("--steps", type=int, default=16, help="icon optimisation steps")
    parser.add_argument("--icon-size", type=int, default=32)
    parser.add_argument("--loop-cells", type=int, default=8, help="cells rendered one at a time for the baseline")
    args = parser.parse_args()

    from genlens.atlas.activations import collect_activations
    from genlens.atlas.analysis import grid_statistics
    from genlens.atlas.icons import IconConfig, render_icons
    from genlens.atlas.layout import LayoutConfig, fit_layout
    from genlens.atlas.model import resolve_model
    from genlens.atlas import stats
    from genlens.zoo import make_generator, real_source

    print(f"torch threads {torch.get_num_threads()}")
    model = resolve_model("torchvision:resnet18", weights="random", input_size=64)
    real = real_source(args.images, seed=0)
    fake = make_generator("smooth_texture", seed=1).as_source(args.images)

    t0 = time.perf_counter()
    acts = collect_activations(model, {"real": real, "fake": fake}, ["layer3"], positions=args.positions, batch_size=128)
    act = acts["layer3"]
    t_collect = time.perf_counter() - t0
    print(f"collection        {t_collect:8.1f} s  ({len(act)} activations of {act.values.shape[1]}-d)")

    t0 = time.perf_counter()
    _, coords = fit_layout(act.values, act.set_index, LayoutConfig())
    t_layout = time.perf_counter() - t0
    print(f"PCA+UMAP          {t_layout:8.1f} s  (includes numba JIT warm-up on first use in a process)")

    t0 = time.perf_counter()
    grids = [grid_statistics(act, coords, g, 0.5, 8, 8, 6, None, 0) for g in (20, 40, 80)]
    t_bin = time.perf_counter() - t0
    print(f"binning+stats     {t_bin:8.1f} s  (grids 20/40/80, 8 noise-floor splits, top cells)")

    cells = stats.cell_index(coords, 20)
    means, counts = stats.cell_means(act.values, cells, 400)
    directions = means[counts >= 3].astype(np.float32)
    config = IconConfig(size=args.icon_size, steps=args.steps)
    t0 = time.perf_counter()
    render_icons(model, "layer3", directions, config)
    t_icons = time.perf_counter() - t0
    batched_rate = len(directions) / t_icons
    print(f"icons (20-grid)   {t_icons:8.1f} s  ({len(directions)} cells, {args.steps} steps, {args.icon_size} px: "
          f"{batched_rate:.1f} icons/s batched)")

    k = min(args.loop_cells, len(directions))
    t0 = time.perf_counter()
    for i in range(k):
        render_icons(model, "layer3", directions[i:i + 1], config)
    loop_rate = k / (time.perf_counter() - t0)
    print(f"icons one-by-one  {k / loop_rate:8.1f} s  ({k} cells: {loop_rate:.2f} icons/s)")
    print(f"batched / one-at-a-time icons/s ratio: {batched_rate / loop_rate:.1f}x")
    total = t_collect + t_layout + t_bin + t_icons
    print(f"total             {total:8.1f} s; largest stage: "
          f"{max([('collection', t_collect), ('layout', t_layout), ('binning', t_bin), ('icons', t_icons)], key=lambda x: x[1])[0]}")
    assert all(g.counts_real.sum() == args.images * args.positions for g in grids)


if __name__ == "__main__":
    main()
