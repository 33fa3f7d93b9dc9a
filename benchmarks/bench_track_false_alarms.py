"""False alarms and detections of the tracking event rule, at its default threshold.

Healthy runs (nothing planted), every (step, metric) pair that the rule judges:

1. ``dcgan``: the zoo DCGAN (quick size, ``EPOCHS`` epochs) trained with ``SEEDS`` seeds; every
   epoch's generator sampled from one fixed noise batch, as the demo and a training loop log it.
   GANs do get worse for an epoch now and then; such a step is counted as a false alarm here.
2. ``resampled``: runs whose every step is a fresh draw of ``SAMPLES`` world scenes (a perfect
   generator); only sampling noise moves the metrics.

Planted breaks, each in its own run, with the step at which it starts:

* ``collapse`` -- a world generator that collapses to 3 scenes from step 7 on;
* ``drop_class`` -- cars vanish from step 6 on;
* ``lr_blowup`` -- the zoo DCGAN (seed 0) with both learning rates raised 30-fold from epoch 6 on.

Every diagnostic is logged (metrics, regions, semantics, atlas) against one reference, and events are
detected with :class:`~genlens.track.EventRule` defaults. The script prints the share of healthy pairs
flagged (target: at most 1%), the largest healthy score, and for each planted break whether it is
flagged at its step and whether it is the strongest event of its run, with its score.

Run: ``.venv/bin/python benchmarks/bench_track_false_alarms.py [--seeds 20] [--epochs 10] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GENLENS_QUIET", "1")
os.environ.setdefault("GENLENS_CACHE", str(Path(__file__).resolve().parents[1] / ".genlens-cache" / "bench"))

REAL = "zoo:real?n=500&seed=5"
SAMPLES = 200


def _tracker(folder: Path):
    from genlens.track import Tracker

    return Tracker(REAL, diagnostics=("metrics", "regions", "semantics", "atlas"), store=folder / "track.sqlite",
                   feature_options={"quick": True}, segmenter="zoo-quick", atlas_options={"quick": True},
                   n_real=500, n_regions=500, clusters=6)


def log_runs(tracker, seeds: int, epochs: int, steps: int) -> dict[str, int | None]:
    """Log every run; returns ``{run: planted step or None}``."""
    import numpy as np
    import torch

    from genlens.zoo import make_generator
    from genlens.zoo.models import dcgan

    planted: dict[str, int | None] = {}
    noise = torch.randn(SAMPLES, 32, generator=torch.Generator().manual_seed(1))
    for seed in range(seeds):
        run = dcgan(quick=True, seed=seed, epochs=epochs)
        for epoch in range(epochs + 1):
            tracker.log(epoch, run.generator(epoch), noise=noise, run=f"dcgan-{seed}")
        planted[f"dcgan-{seed}"] = None
    boost = epochs // 2 + 1
    run = dcgan(quick=True, seed=0, epochs=epochs, lr_boost=(boost, 30.0))
    for epoch in range(epochs + 1):
        tracker.log(epoch, run.generator(epoch), noise=noise, run="lr_blowup")
    planted["lr_blowup"] = boost

    clean = make_generator("clean", seed=3)
    for r in range(seeds):
        for step in range(steps):
            tracker.log(step, clean.sample(SAMPLES, seed=10_000 * (r + 1) + step).images, run=f"resampled-{r}")
        planted[f"resampled-{r}"] = None
    breaks = {"collapse": (make_generator("collapse", n_modes=3, seed=3), 7),
              "drop_class": (make_generator("drop_class", name="car", seed=3), 6)}
    for name, (broken, at) in breaks.items():
        for step in range(steps):
            source = broken if step >= at else clean
            tracker.log(step, source.sample(SAMPLES, seed=100 + step).images, run=name)
        planted[name] = at
    del np
    return planted


def summarize(tracker, planted: dict[str, int | None]) -> None:
    import numpy as np

    from genlens.track import EventRule, TrackResult
    from genlens.track.events import direction_of, worsening_scores
    from genlens.track.measure import se_metric

    rule = EventRule()
    result = TrackResult.from_store(tracker.store, rule)
    series = result.series
    for kind in ("dcgan", "resampled"):
        judged = flagged = 0
        top = (-np.inf, "")
        for run in (r for r, at in planted.items() if at is None and r.startswith(kind)):
            for metric, points in series[run].items():
                higher = direction_of(metric)
                if higher is None:
                    continue
                se = dict(series[run].get(se_metric(metric), []))
                steps = [s for s, _ in points]
                scores, noises = worsening_scores([v for _, v in points], higher, [se.get(s, np.nan) for s in steps], rule)
                judged += int(np.isfinite(noises).sum())
                flagged += int((np.nan_to_num(scores, nan=-np.inf) > rule.threshold).sum())
                if np.isfinite(scores).any() and np.nanmax(scores) > top[0]:
                    i = int(np.nanargmax(scores))
                    top = (float(scores[i]), f"{run} step {steps[i]} {metric}")
        rate = flagged / max(judged, 1)
        print(f"healthy {kind:<9}: {flagged} of {judged} judged (step, metric) pairs flagged = {100 * rate:.2f}% "
              f"(target <= 1%); largest healthy score {top[0]:.1f} ({top[1]})", flush=True)
    for run, at in planted.items():
        if at is None:
            continue
        events = [e for e in result.events if e.run == run]
        at_step = [e for e in events if e.step == at]
        strongest = max(events, key=lambda e: e.score) if events else None
        best = max((e.score for e in at_step), default=float("nan"))
        others = max((e.score for e in events if e.step != at), default=0.0)
        print(f"planted {run:<11}: flagged at step {at}: {'yes' if at_step else 'NO'} "
              f"({len(at_step)} metrics, best score {best:.1f}); strongest event of the run: "
              f"{'yes' if strongest and strongest.step == at else 'NO'}; other steps' best score {others:.1f}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="healthy DCGAN seeds and resampled runs")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each DCGAN run")
    parser.add_argument("--steps", type=int, default=12, help="steps of each resampled / planted run")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the store in this folder; if it holds one already, only re-detect events")
    args = parser.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        plan = folder / "planted.json"
        tracker = _tracker(folder)
        if plan.exists():
            planted = json.loads(plan.read_text())
        else:
            planted = log_runs(tracker, args.seeds, args.epochs, args.steps)
            plan.write_text(json.dumps(planted))
        summarize(tracker, planted)
        tracker.close()
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
