"""The tracking experiment of the demo: zoo DCGANs over epochs and seeds, one with a planted blow-up.

Seeds ``0..n_seeds-1`` train the zoo DCGAN on the world; one extra run raises both learning rates
``boost_factor``-fold from epoch ``boost_epoch`` on (``lr_boost``), a known-time instability. Samples
of every epoch's generator from one fixed noise batch are logged with every diagnostic, and the report
shows the cluster CMS bands over seeds, image CMS vs product, the atlas divergence and the events.

Training the runs is most of the cost, and the demo's reports leave one of two CPU cores idle much
of the time (UMAP's seeded optimisation, plotting), so :func:`pretrain_in_background` trains them in
a single-threaded worker process while the reports are written. The runs land in the zoo's model
cache, whose file lock is held while a run trains: a foreground that asks for the runs in the
opposite order trains the ones the worker has not started, and waits only for the one in progress.
"""

from __future__ import annotations

import os
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import torch

from genlens.io.base import ImageSource
from genlens.track.report import TrackResult, track_report
from genlens.track.tracker import Tracker

#: Learning-rate factor of the planted blow-up, and the share of training after which it starts.
BOOST_FACTOR = 30.0


def tracking_runs(n_seeds: int, quick: bool, boost_epoch: int | None = None,
                  boost_factor: float = BOOST_FACTOR) -> list[tuple[str, dict[str, Any]]]:
    """``(run name, zoo dcgan keyword arguments)`` of every seed and of the planted lr blow-up."""
    from genlens.zoo.models.world_dcgan import RECIPES

    epochs = RECIPES[quick]["epochs"]
    boost_at = boost_epoch if boost_epoch is not None else max(1, (2 * epochs) // 3)
    runs = [(f"seed-{s}", {"seed": s}) for s in range(n_seeds)]
    runs.append((f"seed-0-lr-x{boost_factor:g}-at-{boost_at}", {"seed": 0, "lr_boost": (boost_at, boost_factor)}))
    return runs


def pretrain(runs: list[tuple[str, dict[str, Any]]], quick: bool, size: int, cache_dir: str | None,
             threads: int | None = None) -> int:
    """Train (or find cached) every run; returns how many there are. Safe beside other processes."""
    from genlens.zoo.models import dcgan

    if threads is not None:
        torch.set_num_threads(threads)
    for _, kwargs in runs:
        dcgan(size=size, quick=quick, cache_dir=cache_dir, device="cpu", **kwargs)
    return len(runs)


def pretrain_in_background(runs: list[tuple[str, dict[str, Any]]], quick: bool, size: int,
                           cache_dir: str | os.PathLike[str] | None) -> BaseProcess:
    """Start :func:`pretrain` in a single-threaded daemon process (``spawn``: no forked torch state).

    Nothing depends on it finishing: a run it has not trained (or failed to train) is trained by
    whoever asks for it next, and a daemon dies with the demo if the demo fails. Runs whose weights
    ship with genlens (:mod:`genlens.zoo.models.reference`) are loaded, not trained.
    """
    os.environ.setdefault("GENLENS_QUIET", "1")  # the worker's progress bars would interleave with ours
    worker = get_context("spawn").Process(
        target=pretrain, args=(runs, quick, size, None if cache_dir is None else str(cache_dir), 1),
        name="genlens-pretrain", daemon=True)
    worker.start()
    return worker


def dcgan_tracking_demo(
    out_dir: str | os.PathLike[str],
    n_seeds: int = 5,
    quick: bool = False,
    n_samples: int = 500,
    real: ImageSource | str | None = None,
    size: int = 32,
    clusters: int | None = 8,
    boost_epoch: int | None = None,
    boost_factor: float = BOOST_FACTOR,
    device: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    order: list[str] | None = None,
) -> TrackResult:
    """Log every epoch of every run into ``out_dir/track.sqlite`` and write the report there.

    ``order`` (run names) is the order in which runs are trained or loaded and logged."""
    from genlens.zoo.models import dcgan

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_real = 300 if quick else 1000
    tracker = Tracker(
        real if real is not None else f"zoo:real?n={n_real}&seed=5&size={size}",
        diagnostics=("metrics", "regions", "semantics", "atlas"), store=out / "track.sqlite",
        feature_options={"quick": quick}, segmenter="zoo-quick" if quick else "zoo", atlas_options={"quick": quick},
        n_real=n_real, n_regions=n_real, clusters=clusters, device=device, cache_dir=cache_dir,
    )
    runs = dict(tracking_runs(n_seeds, quick, boost_epoch, boost_factor))
    for name in order or list(runs):
        kwargs = runs[name]
        run = dcgan(size=size, quick=quick, device=device, cache_dir=cache_dir, **kwargs)
        noise = torch.randn(n_samples, run.latent_dim, generator=torch.Generator().manual_seed(1))
        done = set(tracker.store.steps(name))
        for epoch in range(run.epochs + 1):
            if epoch not in done:  # an interrupted demo resumes where it stopped
                tracker.log(epoch, run.generator(epoch), noise=noise, run=name)
    planted = tuple(name for name, kwargs in runs.items() if kwargs.get("lr_boost"))
    result = track_report(tracker.store, out, title="genlens tracking: zoo DCGAN over epochs and seeds",
                          highlight=planted)
    tracker.close()
    return result
