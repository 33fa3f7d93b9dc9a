"""The semantics section of ``genlens report``.

Options (``ctx.options["semantics"]``): ``segmenter`` (a registry name; without one the section applies
only to zoo-world inputs, segmented by the zoo segmenter), ``quick`` (the quick zoo segmenter),
``n_boot`` (default 500), ``max_images``, ``presence_threshold``.
"""

from __future__ import annotations

from genlens.report.diagnostics import ReportContext
from genlens.report.section import Section, Table

KEY = "semantics"
TITLE = "Semantics: classes the generator omits or over-produces"


def _is_zoo_world(ctx: ReportContext) -> bool:
    try:
        from genlens.zoo.sources import ZooSource
    except ImportError:  # pragma: no cover - the zoo is part of the package
        return False
    return isinstance(ctx.real, ZooSource)


def applies(ctx: ReportContext) -> str | None:
    """``None`` when a segmenter is configured or the real images come from the zoo world."""
    if ctx.option(KEY, "segmenter") or _is_zoo_world(ctx):
        return None
    return ("no segmenter for these images: pass one in options['semantics']['segmenter'] "
            "(e.g. torchvision:deeplabv3_resnet50 with cached weights, or pkg.module:factory)")


def run(ctx: ReportContext) -> Section:
    """Segment both sets, compare per-class statistics, and summarise."""
    from genlens.semantics.analysis import compare_sources
    from genlens.semantics.registry import get_segmenter

    name = ctx.option(KEY, "segmenter")
    if name:
        segmenter = get_segmenter(name, device=ctx.device)
    else:
        quick = bool(ctx.option(KEY, "quick", False))
        segmenter = get_segmenter("zoo-quick" if quick else "zoo", device=ctx.device,
                                  size=ctx.real.image_size[0], cache_dir=ctx.cache_dir)
    result = compare_sources(
        ctx.real, ctx.fake, segmenter, n_boot=int(ctx.option(KEY, "n_boot", 500)), seed=ctx.seed,
        max_images=ctx.option(KEY, "max_images"),
        presence_threshold=float(ctx.option(KEY, "presence_threshold", 0.0)),
    )
    c = result.comparison
    rows = tuple(
        (s.name, round(s.real_area, 4), round(s.fake_area, 4), round(s.area_diff, 4),
         f"[{s.area_diff_ci[0]:+.4f}, {s.area_diff_ci[1]:+.4f}]", round(s.real_presence, 3),
         round(s.fake_presence, 3), round(s.z, 1))
        for s in c.classes
    )
    table = Table(columns=("class", "real area", "fake area", "diff", "diff CI", "real presence",
                           "fake presence", "z"), rows=rows)
    return Section(key=KEY, title=TITLE, summary=result.summary(), figures=tuple(result.figures()),
                   table=table, data=result.to_dict())
