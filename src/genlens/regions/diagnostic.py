"""Report hook of the regions view (see :mod:`genlens.report.diagnostics`).

Options (``ctx.options["regions"]``): ``clusters`` (k or None), ``distance`` (``profile`` or
``one_minus_cka``), ``k_max``, ``partition`` (path of a saved partition), ``bandwidth_scale``,
``estimator``, ``mode``, ``n_boot``, ``max_images``.
"""

from __future__ import annotations

from genlens.regions.analysis import analyze_regions
from genlens.regions.cms import CmsPlan
from genlens.regions.figures import KEY, TITLE
from genlens.regions.partition import PixelPartition
from genlens.report.diagnostics import ReportContext
from genlens.report.section import Section

__all__ = ["KEY", "TITLE", "applies", "run"]


def applies(ctx: ReportContext) -> str | None:
    """Pixel-by-pixel comparison needs real and fake images of one size."""
    if tuple(ctx.real.image_size) != tuple(ctx.fake.image_size):
        return (
            f"real images are {ctx.real.image_size[0]}x{ctx.real.image_size[1]} and fake images "
            f"{ctx.fake.image_size[0]}x{ctx.fake.image_size[1]}; regions compares them pixel by pixel"
        )
    if min(len(ctx.real), len(ctx.fake)) < 8:
        return "regions needs at least 8 real and 8 fake images"
    return None


def run(ctx: ReportContext) -> Section:
    opt = ctx.options.get(KEY, {})
    path = opt.get("partition")
    plan = CmsPlan(
        estimator=opt.get("estimator", "biased"),
        mode=opt.get("mode", "pooled"),
        n_boot=int(opt.get("n_boot", 200)),
        seed=ctx.seed,
    )
    result = analyze_regions(
        ctx.real,
        ctx.fake,
        partition=PixelPartition.load(path) if path else None,
        clusters=opt.get("clusters"),
        plan=plan,
        bandwidth_scale=float(opt.get("bandwidth_scale", 1.0)),
        max_images=opt.get("max_images", 2000),
        device=ctx.device,
        distance=opt.get("distance", "profile"),
        k_max=int(opt.get("k_max", 12)),
    )
    return result.to_section()
