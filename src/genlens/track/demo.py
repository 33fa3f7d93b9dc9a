"""The tracking experiment of the demo: zoo DCGANs over epochs and seeds, one with a planted blow-up.

Seeds ``0..n_seeds-1`` train the zoo DCGAN on the world; one extra run raises both learning rates
``boost_factor``-fold from epoch ``boost_epoch`` on (``lr_boost``), a known-time instability. Samples
of every epoch's generator from one fixed noise batch are logged, and the report shows the cluster
CMS bands over seeds, image CMS vs product, and the flagged events.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from genlens.track.report import TrackResult, track_report
from genlens.track.tracker import Tracker


def dcgan_tracking_demo(
    out_dir: str | os.PathLike[str],
    n_seeds: int = 5,
    quick: bool = False,
    n_samples: int = 500,
    boost_epoch: int | None = None,
    boost_factor: float = 30.0,
    device: str | None = None,
) -> TrackResult:
    """Train/load the DCGAN runs, log every epoch into ``out_dir/track.sqlite``, write the report there."""
    from genlens.zoo.models import dcgan

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tracker = Tracker("zoo:real?n=2000&seed=5", diagnostics=("metrics", "regions", "semantics"),
                      store=out / "track.sqlite", feature_options={"quick": quick},
                      segmenter="zoo-quick" if quick else "zoo", n_real=2000, n_regions=1000, device=device)
    runs = [(f"seed-{s}", {"seed": s}) for s in range(n_seeds)]
    probe = dcgan(quick=quick, seed=0, device=device)
    boost_at = boost_epoch if boost_epoch is not None else max(1, (2 * probe.epochs) // 3)
    runs.append((f"seed-0-lr-x{boost_factor:g}-at-{boost_at}", {"seed": 0, "lr_boost": (boost_at, boost_factor)}))
    for name, kwargs in runs:
        run = dcgan(quick=quick, device=device, **kwargs)
        noise = torch.randn(n_samples, run.latent_dim, generator=torch.Generator().manual_seed(1))
        for epoch in range(run.epochs + 1):
            tracker.log(epoch, run.generator(epoch), noise=noise, run=name)
    result = track_report(tracker.store, out, title="genlens tracking: zoo DCGAN over epochs and seeds")
    tracker.close()
    return result
