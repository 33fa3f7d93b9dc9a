"""``genlens track``: every diagnostic over the saved steps of one or more training runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from genlens.cli import app
from genlens.cli._common import err_console

#: The event rule's default threshold (genlens.track.events.EventRule), without importing numpy for --help.
DEFAULT_THRESHOLD = 10.0


@app.command("track")
def track_command(
    real: str = typer.Option(..., "--real", "-r", help="Real images: a folder, a .npy/.npz array, or a zoo spec.",
                             show_default=False),
    runs: Path = typer.Option(..., "--runs", help="Folder with one sub-folder per run, each with one image folder, "
                              ".npz/.npy or checkpoint per step (the last number in a name is the step).",
                              show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: report.html, results.json, figures/, track.sqlite.",
                             show_default=False),
    diagnostics: str = typer.Option("metrics,regions", "--diagnostics", "-d",
                                    help="Comma-separated: metrics, regions, semantics, atlas."),
    features: str = typer.Option("auto", "--features", "-f", help="Feature space of the standard metrics (auto: zoo "
                                 "classifier for zoo images, else random-vgg16)."),
    metrics: str = typer.Option("fid,kid,prdc", "--metrics", "-m", help="Standard metrics to track."),
    clusters: Optional[int] = typer.Option(None, "--clusters", "-k", min=1, show_default=False,
                                           help="Pixel clusters (default: the largest-gap rule)."),
    segmenter: str = typer.Option("zoo", "--segmenter", help="Segmenter for the semantics diagnostic."),
    atlas_model: Optional[str] = typer.Option(None, "--atlas-model", show_default=False,
                                              help="Network of the atlas diagnostic: zoo-classifier, random-vgg16, "
                                                   "torchvision:<arch> or pkg.module:factory (default: the images' "
                                                   "own, zoo-classifier for zoo images, else random-vgg16)."),
    atlas_grid: int = typer.Option(20, "--atlas-grid", min=2, help="Cells per side of the atlas grid."),
    quick: bool = typer.Option(False, "--quick", help="Zoo models (classifier features, segmenter, atlas "
                               "classifier): the small quickly trained variants."),
    n: Optional[int] = typer.Option(None, "--n", min=4, show_default=False,
                                    help="Samples per step (default: all; checkpoints: 1000)."),
    n_real: int = typer.Option(1000, "--n-real", min=4, help="Real images for the reference."),
    generator: Optional[str] = typer.Option(None, "--generator", show_default=False,
                                            help="pkg.module:factory building the generator, for checkpoint runs."),
    latent_dim: Optional[int] = typer.Option(None, "--latent-dim", min=1, show_default=False,
                                             help="Latent size of the generator, for checkpoint runs."),
    threshold: float = typer.Option(DEFAULT_THRESHOLD, "--threshold", min=0.0,
                                    help="Event threshold in noise units (the larger of a metric's measured noise "
                                         "and the spread of the run's earlier changes)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fixed noise and of random choices."),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda, ..."),
) -> None:
    """Track diagnostics over saved training steps, flag regressions, and write a report.

    Steps already in OUT/track.sqlite are not recomputed, so an interrupted command resumes.

    Example: genlens track --real data/real/ --runs runs/ --out track/
    """
    from genlens.report import check_out_dir
    from genlens.track.disk import discover_runs, log_runs
    from genlens.track.events import EventRule
    from genlens.track.report import track_report
    from genlens.track.tracker import Tracker

    found = discover_runs(runs)
    out_dir = check_out_dir(out, [runs, real])
    out_dir.mkdir(parents=True, exist_ok=True)
    tracker = Tracker(
        real, diagnostics=[d.strip() for d in diagnostics.split(",") if d.strip()], store=out_dir / "track.sqlite",
        features=features, metrics=[m.strip() for m in metrics.split(",") if m.strip()], n_real=n_real,
        clusters=clusters, segmenter="zoo-quick" if quick and segmenter == "zoo" else segmenter,
        feature_options={"quick": True} if quick and _zoo_features(features, real) else None, atlas_model=atlas_model,
        atlas_options={"quick": True} if quick and _zoo_atlas(atlas_model, real) else None, atlas_grid=atlas_grid,
        seed=seed, device=None if device == "auto" else device,
    )
    logged = log_runs(tracker, found, n=n, factory=generator, latent_dim=latent_dim, noise_seed=seed,
                      on_step=_step_done)
    result = track_report(tracker.store, out_dir, rule=EventRule(threshold=threshold), protect=(runs,))
    tracker.close()
    err_console.print(f"tracked {logged} new step(s) of {len(found)} run(s); {len(result.events)} event(s)")
    for event in result.events[:20]:
        causes = ", ".join(f"{c['name']} {100 * c['share']:.0f}%" for c in event.causes) or "-"
        err_console.print(f"  {event.describe()} (causes: {causes})", markup=False, highlight=False)
    err_console.print(f"report: {out_dir / 'report.html'}")


def _step_done(entry, seconds: float) -> None:
    """One line per logged step with its time (every diagnostic of the step, one network pass shared)."""
    err_console.print(f"  {entry.run} step {entry.step}: {seconds:.0f}s", markup=False, highlight=False)


def _zoo_atlas(atlas_model: str | None, real: str) -> bool:
    """Whether the atlas network is the zoo classifier (zoo images name it as their own)."""
    return atlas_model == "zoo-classifier" or (atlas_model is None and real.startswith("zoo:"))


def _zoo_features(features: str, real: str) -> bool:
    """Whether the metrics' feature space is the zoo classifier (``auto`` picks it for zoo images)."""
    return features == "zoo-classifier" or (features == "auto" and real.startswith("zoo:"))
