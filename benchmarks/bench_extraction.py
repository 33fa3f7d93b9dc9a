"""Feature extraction from a folder of PNGs: genlens vs a plain torch loop and clean-fid, same network.

The network is the FID Inception-v3 architecture with weights this script makes (seeded random
init, saved as a state dict): throughput does not depend on the weights, and nothing is downloaded.
Each contender reads the same PNG files, resizes to 299 x 299 (PIL bicubic) and runs the same
module in batches of 64:

* plain loop: ``PIL.Image.open`` -> ``resize`` -> ``np.stack`` -> the model, nothing else;
* genlens: ``extract_features(FolderSource(folder), InceptionFID(weights=file), cache_dir=False)``;
* clean-fid: ``cleanfid.fid.get_folder_features`` with the same module as its feature extractor;
* torch-fidelity: its ``ImagesPathDataset`` and ``get_featuresdict_from_dataset`` with the same module
  wrapped as a ``FeatureExtractorBase`` that resizes on the tensor, as torch-fidelity's own Inception
  does (bilinear to 299; ``save_cpu_ram`` so it reads in the main process, like the others).

Prints images/s of each, genlens as a share of the plain loop (the issue asks >= 90%) and genlens
against each peer.

    .venv/bin/python benchmarks/bench_extraction.py [--n 500] [--size 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlens.features.cache import extract_features
from genlens.features.inception import FIDInceptionV3, InceptionFID
from genlens.io.folder import FolderSource

BATCH = 64


def make_folder(folder: Path, n: int, size: int) -> list[Path]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        smooth = rng.normal(128, 40, (size // 8, size // 8, 3)).clip(0, 255).astype(np.uint8)
        image = Image.fromarray(smooth).resize((size, size), Image.Resampling.BICUBIC)
        paths.append(folder / f"{i:05d}.png")
        image.save(paths[-1])
    return paths


def plain_loop(paths: list[Path], model: torch.nn.Module) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(paths), BATCH):
            images = [np.asarray(Image.open(p).convert("RGB").resize((299, 299), Image.Resampling.BICUBIC))
                      for p in paths[i:i + BATCH]]
            batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
            out.append(model(batch)["pool"].numpy())
    return np.concatenate(out)


def best_rate(fn, n: int, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return n / best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_folder(Path(tmp, "images"), args.n, args.size)
        torch.manual_seed(0)
        weights = Path(tmp, "inception.pt")
        torch.save(FIDInceptionV3().state_dict(), weights)
        extractor = InceptionFID(weights=weights, device="cpu")
        model = extractor.network
        print(f"{args.n} PNGs of {args.size} px -> 299 px, Inception-v3 (FID architecture), batch {BATCH}, "
              f"torch threads {torch.get_num_threads()}")
        plain, plain_out = best_rate(lambda: plain_loop(paths, model), args.n, args.repeats)
        ours, ours_out = best_rate(lambda: extract_features(FolderSource(Path(tmp, "images")), extractor,
                                                            cache_dir=False, batch_size=BATCH), args.n, args.repeats)
        print(f"plain torch loop: {plain:6.2f} img/s")
        print(f"genlens:          {ours:6.2f} img/s   ({100 * ours / plain:.0f}% of the plain loop; max |diff| "
              f"{np.abs(np.asarray(ours_out) - plain_out).max():.1e})")
        try:
            from cleanfid import fid as cleanfid
        except ImportError:
            print("clean-fid: not installed")
            return

        class Pool(torch.nn.Module):  # clean-fid hands the model float images in [0, 255]
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return model(x / 255.0)["pool"]

        peer, _ = best_rate(lambda: cleanfid.get_folder_features(
            str(Path(tmp, "images")), model=Pool(), num_workers=0, batch_size=BATCH, device=torch.device("cpu"),
            mode="legacy_pytorch", verbose=False), args.n, args.repeats)
        print(f"clean-fid:        {peer:6.2f} img/s   (genlens / clean-fid: {ours / peer:.2f}x)")
        fidelity = torch_fidelity_rate(paths, model, args.n, args.repeats)
        if fidelity is not None:
            print(f"torch-fidelity:   {fidelity:6.2f} img/s   (genlens / torch-fidelity: {ours / fidelity:.2f}x)")


def torch_fidelity_rate(paths: list[Path], model: torch.nn.Module, n: int, repeats: int) -> float | None:
    """Images/s of torch-fidelity's folder pipeline running ``model`` (None when it is not installed)."""
    try:
        from torch_fidelity.datasets import ImagesPathDataset
        from torch_fidelity.feature_extractor_base import FeatureExtractorBase
        from torch_fidelity.utils import get_featuresdict_from_dataset
    except ImportError:
        print("torch-fidelity: not installed")
        return None

    class SameNetwork(FeatureExtractorBase):
        def __init__(self) -> None:
            super().__init__("genlens-bench", ["pool"])

        @staticmethod
        def get_provided_features_list() -> tuple[str, ...]:
            return ("pool",)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:  # uint8 at the file's size, as torch-fidelity feeds
            x = torch.nn.functional.interpolate(x.float() / 255.0, size=(299, 299), mode="bilinear", align_corners=False)
            return (model(x)["pool"],)

    extractor = SameNetwork().eval()
    dataset = ImagesPathDataset([str(p) for p in paths])
    rate, _ = best_rate(lambda: get_featuresdict_from_dataset(dataset, extractor, BATCH, False, True, False), n, repeats)
    return rate


if __name__ == "__main__":
    main()
