"""Resize policy throughput: genlens.io.resize_uint8 (PIL bicubic, threaded) vs the same policy in one thread.

Run: ``python benchmarks/bench_resize.py [n_images] [src_size]``. Prints seconds, images/s and the
speed ratio; both paths must give identical pixels. torch's antialiased bicubic is timed for scale
only -- it is a different filter, not the policy.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from PIL import Image

from genlens.io.preprocess import resize_uint8


def serial_pil(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    out = [
        np.asarray(Image.fromarray(img).resize(size[::-1], Image.Resampling.BICUBIC))
        for img in batch.permute(0, 2, 3, 1).numpy()
    ]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


def timed(fn, *args) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    src = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    batch = torch.randint(0, 256, (n, 3, src, src), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    target = (299, 299)
    resize_uint8(batch[:16], target)  # warm the thread pool
    t_ours, ours = timed(resize_uint8, batch, target)
    t_serial, serial = timed(serial_pil, batch, target)
    t_torch, _ = timed(
        lambda b: torch.nn.functional.interpolate(b.float(), size=target, mode="bicubic", antialias=True), batch
    )
    assert torch.equal(ours, serial), "threaded and serial PIL must agree exactly"
    print(f"{n} images {src}x{src} -> 299x299 on {torch.get_num_threads()} torch threads")
    print(f"resize_uint8 (threaded PIL): {t_ours:.3f} s  ({n / t_ours:.0f} img/s)")
    print(f"serial PIL (baseline):       {t_serial:.3f} s  ({n / t_serial:.0f} img/s)")
    print(f"torch bicubic+antialias:     {t_torch:.3f} s  (different filter, for scale)")
    print(f"speed-up vs serial: {t_serial / t_ours:.2f}x, identical output: True")


if __name__ == "__main__":
    main()
