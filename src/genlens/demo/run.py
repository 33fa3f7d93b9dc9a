"""``genlens demo``: the planted-defect world end to end.

One real set, one generator per planted defect (plus ``clean``, which must look like real, and the
trained zoo DCGAN, whose flaws nobody planted), a full report for each against the same real set, and
an ``index.html`` that sets what was planted beside what each view found. The real set's features
and noise floor are computed once and shared by every comparison. Then the tracking experiment: the
zoo DCGAN over every epoch for five seeds plus a run with a planted learning-rate blow-up
(:mod:`genlens.demo.tracking`), whose runs train in a background process while the reports are written.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlens._device import resolve_device
from genlens._console import err_console
from genlens.io.base import ImageSource
from genlens.report.render import check_out_dir, template_env, write_report
from genlens.views.section import Section

SIZE = 32

#: (generator, parameters): each plants one known defect in the world at 32 px.
GENERATORS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("clean", {}),
    ("blur_region", {"box": (20, 2, 30, 14)}),  # lower left: textured ground
    ("color_shift_region", {"box": (2, 18, 12, 30)}),  # upper right: sky, sun, clouds
    ("noise_region", {"box": (8, 8, 20, 20)}),  # centre: horizon and its objects
    ("drop_class", {"name": "car"}),
    ("rare_class", {"name": "house", "factor": 0.2}),
    ("collapse", {"n_modes": 8}),
    ("smooth_texture", {}),
)

#: Headline columns of the index: (metric name, column label).
HEADLINE = (("fid", "FD"), ("kid", "KID"), ("precision", "precision"), ("recall", "recall"), ("coverage", "coverage"))


@dataclass
class DemoRow:
    """One generator's line in the index."""

    name: str
    planted: dict[str, Any]
    link: str
    metrics: dict[str, Any] = field(default_factory=dict)
    findings: list[tuple[str, str, str]] = field(default_factory=list)  # (view title, verdict, evidence)
    seconds: float = 0.0
    thumbnails: str = ""  # data URI of a strip of samples
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (view title, reason)


def _say(message: str) -> None:
    err_console.print(f"[bold]demo[/bold] {message}", highlight=False)


class _Timer:
    """Wall and CPU seconds since creation (CPU time shows the cost when the machine is shared)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __str__(self) -> str:
        return f"{time.perf_counter() - self.wall:.0f}s (CPU {time.process_time() - self.cpu:.0f}s)"

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.wall


def run_demo(
    out: str | Path,
    quick: bool = False,
    n: int | None = None,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    track: bool = True,
    track_seeds: int = 5,
    photos: bool = True,
) -> Path:
    """Write one report per generator (the world's, then the real photographs'), the tracking report and
    ``index.html`` under ``out``."""
    start = _Timer()
    out = check_out_dir(out, ())
    out.mkdir(parents=True, exist_ok=True)
    n = n or (200 if quick else 1000)
    dev = str(resolve_device(None if device in (None, "auto") else device))
    n_boot = 10 if quick else 20  # normal-theory intervals from the replicates' spread: 20 give a usable SE
    cache = Path(cache_dir) if cache_dir is not None else None

    _say(f"reference models ({'quick' if quick else 'full'}; trained once, then cached)")
    model_sections = _models(quick, cache, dev, ("reference-nets", "dcgan"))
    # started after the two-thread trainings (a worker beside them tripled their time), before the
    # single-threaded VAEs and manifold, which leave a core free
    background = _start_tracking_runs(track, track_seeds, quick, cache, dev)
    model_sections += _models(quick, cache, dev, ("vae", "manifold"))
    _say(f"    reference models: {start}")
    index = _reports_and_tracking(out, quick, n, dev, cache, seed, n_boot, model_sections, background,
                                  track, track_seeds, start, photos)
    _say(f"done in {start}")
    return index


def _reports_and_tracking(out: Path, quick: bool, n: int, dev: str, cache: Path | None, seed: int, n_boot: int,
                          model_sections: list[Section], background: Any, track: bool, track_seeds: int,
                          start: _Timer, with_photos: bool = True) -> Path:
    from genlens.demo.photos import photo_rows
    from genlens.report.runner import Runner
    from genlens.views import RunContext
    from genlens.zoo import make_generator
    from genlens.zoo.sources import real_source

    real = real_source(n, seed=seed, size=SIZE)
    _say(f"real set: {n} world scenes at {SIZE}px; every view fitted on it once")
    real_strip = thumbnails(real)
    n_views = 20 if quick else 100  # fewer bootstrap replicates than a paper would use
    options: dict[str, dict[str, Any]] = {
        "metrics": {"feature_options": (("quick", quick),), "n_boot": n_boot},
        # a narrower RBF bandwidth than the median heuristic: blur and pixel noise in a box barely move
        # CMS at the median bandwidth (see docs/regions.md, "bandwidth")
        "regions": {"n_boot": n_views, "bandwidth_scale": 0.1},
        "semantics": {"n_boot": n_views, **({"segmenter": "zoo-quick"} if quick else {})},
        # two activation positions per image (not the atlas's default four): 4000 points per layer keep
        # the nine UMAP fits inside the demo's ten-minute budget on a 2-core CPU
        "atlas": {"quick": quick, "positions": 2},
        # the world's defects are plain: a few epochs on 400 + 400 images find them (the photographs'
        # subtle ones need the critic's full default training, in the photo part)
        "critic": {"max_images": 400, "min_steps": 0, "crop": 0},
    }
    partition = _real_partition(real, out, dev)
    if partition is not None:
        options["regions"]["partition"] = str(partition)
    runner = Runner(real, options, RunContext(device=dev, cache_dir=cache, seed=seed))
    runs: list[tuple[str, str, dict[str, Any], ImageSource]] = []  # (name, folder, planted, source)
    for i, (name, params) in enumerate(GENERATORS):
        gen = make_generator(name, size=SIZE, seed=seed + 101 + i, **params)
        runs.append((name, name, gen.planted, gen.as_source(n, seed=seed + 101 + i)))
    dcgan_source = _dcgan_source(quick, n, seed, cache, dev)
    if dcgan_source is not None:
        runs.append(("zoo DCGAN (trained)", "dcgan", {"kind": "none planted (a trained model)"}, dcgan_source))

    rows = []
    for i, (name, slug, planted, fake) in enumerate(runs, start=1):
        t0 = _Timer()
        _say(f"[{i}/{len(runs)}] {name}: running every view")
        sections = runner.sections(fake, out / slug,
                                   on_done=lambda sec, sec_s: _say(f"      {sec.key}: {sec.status} ({sec_s:.0f}s)"))
        inputs = {"real": real.describe(), "fake": fake.describe(), "planted": planted}
        write_report(sections, out / slug, title=f"genlens demo: {name}", inputs=inputs)
        row = _row(name, planted, f"{slug}/report.html", sections, t0.seconds)
        row.thumbnails = thumbnails(fake)
        rows.append(row)
        _say(f"    {name}: {t0}")

    write_report(model_sections, out / "models", title="genlens demo: the zoo's reference models")
    photos = photo_rows(out, n, quick, dev, cache, seed, _say) if with_photos else None
    tracking = _tracking(background, track_seeds, quick, real, out, cache, dev) if track else None
    return _write_index(out, rows, model_sections, real_strip, n, quick, start.seconds, tracking, photos)


def _models(quick: bool, cache: Path | None, device: str, keys: tuple[str, ...]) -> list[Section]:
    """The reference models' report sections named by ``keys``, in that order."""
    from genlens.demo.models import (
        dcgan_section,
        guarded,
        manifold_section,
        reference_nets_section,
        vae_section,
    )

    steps = [
        ("reference-nets", "Reference networks", lambda: reference_nets_section(quick, SIZE, cache_dir=cache, device=device)),
        ("dcgan", "DCGAN on the world", lambda: dcgan_section(quick, SIZE, cache_dir=cache, device=device)),
        ("vae", "Beta-VAE on digits", lambda: vae_section(quick, cache_dir=cache)),
        ("manifold", "Latent manifold of the beta-VAEs", lambda: manifold_section(quick, cache_dir=cache, device=device)),
    ]
    sections = []
    for key, title, build in (step for step in steps if step[0] in keys):
        t0 = _Timer()
        sections.append(guarded(key, title, build))
        _say(f"    {title}: {t0} ({sections[-1].status})")
    return sections


def _start_tracking_runs(track: bool, n_seeds: int, quick: bool, cache: Path | None, device: str) -> Any:
    """Train the tracking runs in a background process when they would otherwise wait for a CPU."""
    import torch

    if not track or device != "cpu" or (os.cpu_count() or 1) < 2 or torch.get_num_threads() < 2:
        return None
    from genlens.demo.tracking import pretrain_in_background, tracking_runs

    runs = tracking_runs(n_seeds, quick)
    _say(f"tracking: training {len(runs)} DCGAN runs in a background process")
    return pretrain_in_background(runs, quick, SIZE, cache)


def _tracking(background: Any, n_seeds: int, quick: bool, real: ImageSource, out: Path, cache: Path | None,
              device: str) -> dict[str, Any] | None:
    """The tracking experiment's report under ``out/tracking``; a failure is reported, not raised."""
    from genlens.demo.tracking import dcgan_tracking_demo, tracking_runs

    t0 = _Timer()
    _say(f"tracking: zoo DCGAN over every epoch, {n_seeds} seeds and one planted lr blow-up")
    names = [name for name, _ in tracking_runs(n_seeds, quick)]
    order = names[::-1]  # the runs the background worker reaches last first
    try:
        result = dcgan_tracking_demo(out / "tracking", n_seeds=n_seeds, quick=quick, real=real, order=order,
                                     n_samples=200 if quick else 300, device=device, cache_dir=cache)
        if background is not None:
            background.join()  # every run is logged by now, so the worker has finished or failed
    except Exception as err:  # noqa: BLE001 -- the demo's other reports stand on their own
        _say(f"tracking failed ({type(err).__name__}: {err})")
        return {"status": "error", "summary": f"{type(err).__name__}: {err}", "events": [], "link": None}
    _say(f"    tracking: {t0}; {len(result.events)} event(s)")
    corr = result.product_correlation()
    last = max(step for per in result.series.values() for points in per.values() for step, _ in points)
    summary = f"{len(result.runs)} runs, epochs 0 to {last}, every diagnostic at every epoch"
    if corr:
        summary += (f"; image CMS vs product of cluster CMS, correlation over epochs "
                    f"{min(corr.values()):.4f} to {max(corr.values()):.4f}")
    strongest = sorted(result.events, key=lambda e: -e.score)  # the planted blow-up leads the list
    events = [(e.run, e.step, e.metric, f"{e.score:.0f}", ", ".join(c["name"] for c in e.causes[:2]) or "-")
              for e in strongest]
    return {"status": "ok", "summary": summary, "events": events, "link": "tracking/report.html"}


def _real_partition(real: ImageSource, out: Path, device: str) -> Path | None:
    """The regions view's pixel partition of the real set, fitted once and shared by every report."""
    try:
        from genlens.regions.analysis import build_partition
    except ImportError:
        return None
    _say("regions: pixel partition of the real set, once")
    try:
        # On the world, 1 - CKA with k = 12 gives spatially sensible clusters (sky bands, the object
        # band, open ground); the paper's CKA-profile distance lumps the ground into one cluster.
        partition = build_partition(real, clusters=12, distance="one_minus_cka", max_images=2000, device=device)
        return partition.save(out / "real-partition.npz")
    except Exception as err:  # noqa: BLE001 -- the view then fits its own, per report
        _say(f"regions: no shared partition ({type(err).__name__}: {err})")
        return None


def _dcgan_source(quick: bool, n: int, seed: int, cache: Path | None, device: str) -> ImageSource | None:
    try:
        from genlens.zoo.models import dcgan
        from genlens.zoo.models.reference import demo_dcgan_epochs

        run = dcgan(size=SIZE, quick=quick, keep_epochs=demo_dcgan_epochs(quick), cache_dir=cache, device=device)
        return run.as_source(n, seed=seed + 500)
    except Exception as err:  # noqa: BLE001 -- the demo goes on without it
        _say(f"zoo DCGAN unavailable ({type(err).__name__}: {err}); skipping its report")
        return None


def _row(name: str, planted: dict[str, Any], link: str, sections: list[Section], seconds: float) -> DemoRow:
    """One generator's line: headline metrics, and per view its verdict on what was planted."""
    from genlens.demo.verdicts import verdict

    row = DemoRow(name=name, planted=planted, link=link, seconds=seconds)
    for sec in sections:
        if sec.key == "metrics" and sec.status == "ok":
            metrics = sec.data.get("metrics", {})
            row.metrics = {key: metrics.get(key) for key, _ in HEADLINE if key in metrics}
        if sec.status != "skipped":  # views that do not apply are listed once, under the table
            row.findings.append((sec.title, *verdict(planted, sec)))
        else:
            row.skipped.append((sec.title, sec.reason))
    return row


def thumbnails(source: ImageSource, count: int = 8) -> str:
    """A one-row strip of the first ``count`` images as a PNG data URI (nearest-neighbour, x2)."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    images = source.read(0, min(count, len(source))).numpy()
    strip = np.concatenate(list(images.transpose(0, 2, 3, 1)), axis=1)
    img = Image.fromarray(strip).resize((strip.shape[1] * 2, strip.shape[0] * 2), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _planted_text(planted: dict[str, Any]) -> str:
    kind = planted.get("kind", "?")
    details = ", ".join(f"{k}={v}" for k, v in planted.items() if k != "kind")
    return f"{kind} ({details})" if details else kind


def _index_rows(rows: list[DemoRow]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "planted": _planted_text(r.planted),
            "link": r.link,
            "thumbnails": r.thumbnails,
            "metrics": [(label, r.metrics.get(key)) for key, label in HEADLINE],
            "findings": r.findings,
            "seconds": r.seconds,
        }
        for r in rows
    ]


def _write_index(
    out: Path, rows: list[DemoRow], model_sections: list[Section], real_strip: str, n: int, quick: bool, seconds: float,
    tracking: dict[str, Any] | None = None, photos: tuple[list[DemoRow], str, int] | None = None,
) -> Path:
    import genlens
    from genlens._fs import atomic_write_text

    html = template_env().get_template("index.html").render(
        title="genlens demo: planted defects and what each view finds",
        version=genlens.__version__,
        rows=_index_rows(rows),
        skipped=sorted({item for r in rows for item in r.skipped}),
        photos=None if photos is None else {"rows": _index_rows(photos[0]), "real_strip": photos[1], "n": photos[2],
                                            "skipped": sorted({item for r in photos[0] for item in r.skipped})},
        models=[{"title": s.title, "status": s.status, "summary": s.summary or s.reason} for s in model_sections],
        headline=[label for _, label in HEADLINE],
        real_strip=real_strip,
        tracking=tracking,
        n=n,
        quick=quick,
        seconds=seconds,
    )
    return atomic_write_text(out / "index.html", html)
