"""``genlens report`` hook of the activation-atlas view.

Options (``ctx.options["atlas"]``): ``model`` (default ``zoo-classifier``), ``weights``, ``layers``,
``grids`` (default ``(20, 40, 80)``), ``positions`` (default 4), ``max_images`` (default 2000),
``icons`` (default False), ``quick``, ``method`` (``umap``; ``pca`` when ``quick``, which skips UMAP's
numba warm-up of a minute or more), ``viewer`` (default True: writes ``atlas.html`` next to the report).
"""

from __future__ import annotations

from dataclasses import replace

from genlens.atlas.figures import KEY, TITLE
from genlens.report.diagnostics import ReportContext
from genlens.report.section import Section

__all__ = ["KEY", "TITLE", "applies", "run"]


def applies(ctx: ReportContext) -> str | None:
    """The atlas needs enough images for a noise floor from real half-splits."""
    from genlens.atlas.analysis import MIN_IMAGES

    if min(len(ctx.real), len(ctx.fake)) < MIN_IMAGES:
        return f"the activation atlas needs at least {MIN_IMAGES} real and {MIN_IMAGES} generated images"
    return None


def run(ctx: ReportContext) -> Section:
    from genlens.atlas.analysis import analyze_atlas
    from genlens.atlas.layout import LayoutConfig
    from genlens.atlas.section import build_section

    opt = ctx.options.get(KEY, {})
    layers = opt.get("layers")
    quick = bool(opt.get("quick", False))
    layout = LayoutConfig(method=opt.get("method", "pca" if quick else "umap"), seed=ctx.seed)
    result = analyze_atlas(
        ctx.real, ctx.fake, model=opt.get("model", "zoo-classifier"),
        layers=layers.split(",") if isinstance(layers, str) else layers,
        grids=tuple(opt.get("grids", (20, 40, 80))), positions=int(opt.get("positions", 4)),
        max_images=opt.get("max_images", 2000), icons=bool(opt.get("icons", False)), layout=layout,
        weights=opt.get("weights", "default"), quick=quick,
        seed=ctx.seed, device=ctx.device, cache_dir=ctx.cache_dir,
    )
    section = build_section(result)
    if opt.get("viewer", True):
        from genlens.atlas.viewer import write_viewer

        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        write_viewer(result, ctx.real, ctx.fake, ctx.out_dir / "atlas.html")
        section = replace(section, notes=section.notes + ("Interactive viewer: atlas.html next to this report.",))
    return section
