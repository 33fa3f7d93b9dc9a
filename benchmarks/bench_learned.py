"""The ``learned`` feature space: what training costs, and whether it sees a planted defect.

Run: ``python benchmarks/bench_learned.py [n_images] [size] [eval_n] [threads]`` (default 10000 64 2000 2).
Trains the encoder on ``n`` real world images of ``size`` px by the default recipe (a fresh cache, so it
always trains) and prints

* the training time (wall clock, and process CPU time per thread: on a shared machine the wall clock
  also counts other people's work) and images/s, as a ratio to one plain epoch measured in the same run: the same
  encoder, forward and backward over every image once, no augmentation, no contrastive pairs (what the
  hardware costs per pass). The default budget is ``30 * sqrt(n / 1000)`` steps of 256 pairs, so the
  ratio is about ``2 * steps * 256 / n`` plus the augmentations' cost;
* random-vgg16's extraction rate of the same images (224 px input), measured on 256 of them, and what
  the whole set would cost at that rate: the cheap untrained baseline, for scale;
* FD and recall/coverage of ``drop_class(car)`` and ``clean`` against the first ``eval_n`` real images in
  the learned space, each as generated-vs-second-real-half ("matched") against the real-vs-real floor
  (:class:`MetricsReference` with ``floor=True``): FD/floor of a dropped class should be far above 1, of
  a clean generator near 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("GENLENS_QUIET", "1")

import torch  # noqa: E402

from genlens.features import extract_features, get_extractor  # noqa: E402
from genlens.features.learned import (  # noqa: E402
    LearnedEncoder,
    LearnedRecipe,
    train_encoder,
    training_images,
)
from genlens.features.space import extract, feature_extractor  # noqa: E402
from genlens.metrics.reference import MetricsReference  # noqa: E402
from genlens.zoo import make_generator, real_source  # noqa: E402


def plain_epoch(images: torch.Tensor, batch: int = 256) -> float:
    """Seconds for one forward+backward pass of the encoder over every image (no augmentation)."""
    encoder = LearnedEncoder().train()
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-3)

    def step(x: torch.Tensor) -> None:
        loss = encoder.pooled(x.float().div_(127.5).sub_(1)).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step(images[:batch])  # warm up (first-call kernel selection)
    start = time.perf_counter()
    for lo in range(0, len(images), batch):
        step(images[lo : lo + batch])
    return time.perf_counter() - start


def vgg_rate(images: torch.Tensor) -> float:
    """random-vgg16 feature extraction, images per second (224 px input, as it is used)."""
    from genlens.io import ArraySource

    ext = get_extractor("random-vgg16", device="cpu")
    extract_features(ArraySource(images[:16]), ext, cache_dir=False, batch_size=16)  # warm up
    start = time.perf_counter()
    extract_features(ArraySource(images), ext, cache_dir=False, batch_size=64)
    return len(images) / (time.perf_counter() - start)


def separation(real_eval, ext, size: int, eval_n: int) -> dict[str, dict[str, tuple[float, float]]]:
    """(matched, floor) of FD, recall and coverage for a clean and a car-dropping generator."""
    def features(source):  # noqa: ANN001, ANN202
        return extract(source, "learned", "cpu", False, 256, extractor=ext)

    reference = MetricsReference(features(real_eval), metrics=("fid", "prdc"), n_boot=0)
    out = {}
    for label, generator in (("clean", make_generator("clean", size=size)),
                             ("drop_class(car)", make_generator("drop_class", size=size, name="car"))):
        result = reference.compare(features(generator.as_source(eval_n)), floor=True)
        out[label] = {name: (result.estimate(name).matched, result.estimate(name).floor)
                      for name in ("fid", "recall", "coverage")}
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    eval_n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    torch.set_num_threads(threads)
    recipe = LearnedRecipe()
    real = real_source(n, seed=0, size=size)

    start = time.perf_counter()
    images = training_images(real, recipe)
    t_read = time.perf_counter() - start
    t_epoch = plain_epoch(images)
    rate = vgg_rate(images[:256])

    with tempfile.TemporaryDirectory() as cache:
        start, cpu = time.perf_counter(), time.process_time()
        encoder = train_encoder(real, recipe, cache_dir=cache, device="cpu")
        t_train, cpu_train = time.perf_counter() - start, time.process_time() - cpu
        ext = feature_extractor("learned", real.image_size, "cpu", cache, {"recipe": recipe}, train_on=real)
        assert ext.fingerprint() != "" and encoder.path == ext.weights_file  # loaded, not trained again
        start = time.perf_counter()
        numbers = separation(real_source(min(eval_n, n), seed=0, size=size), ext, size, eval_n)
        t_eval = time.perf_counter() - start

    steps = recipe.steps_for(n)
    print(f"learned feature space: {n} world images {size}x{size}, {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} CPUs visible")
    print(f"recipe: {steps} steps x batch {recipe.batch_size} (two views each), width {recipe.width}, dim {recipe.dim}, "
          f"T={recipe.temperature}")
    print(f"render the real images:     {t_read:8.1f} s")
    print(f"train (incl. reading):      {t_train:8.1f} s  ({steps * recipe.batch_size / t_train:.0f} image pairs/s; "
          f"CPU time {cpu_train:.1f} s = {cpu_train / threads:.1f} s per thread, what an idle machine would take)")
    print(f"plain epoch (baseline):     {t_epoch:8.1f} s  ({n / t_epoch:.0f} images/s, forward+backward, no augmentation)")
    print(f"random-vgg16 extraction:    {rate:8.1f} images/s -> {n / rate:.0f} s for all {n} (measured on 256)")
    print(f"ratio train / plain epoch:  {t_train / t_epoch:8.2f}x")
    print(f"ratio train / random-vgg16 extraction of the same images: {t_train / (n / rate):.2f}x")
    print(f"separation in the learned space ({eval_n} per set, matched = generated vs the second real half; "
          f"took {t_eval:.1f} s):")
    for label, values in numbers.items():
        fd, floor = values["fid"]
        parts = [f"FD/floor {fd / floor:6.2f} (FD {fd:.4g}, floor {floor:.4g})"]
        parts += [f"{name} {m:.3f} (floor {f:.3f})" for name, (m, f) in values.items() if name != "fid"]
        print(f"  {label:16s} " + "  ".join(parts))


if __name__ == "__main__":
    main()
