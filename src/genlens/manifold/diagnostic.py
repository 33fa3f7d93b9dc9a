"""``genlens report`` hook: the latent-manifold view runs only when a decoder is given.

Options (``ctx.options["manifold"]``): ``decoder`` (a spec string as on the CLI, or a callable),
``latent_dim``, ``checkpoint``, ``n`` (default 1000), ``mode``, ``classes``, ``include_h0``.
"""

from __future__ import annotations

from genlens.errors import ConfigError
from genlens.manifold.section import KEY, TITLE, build_section
from genlens.report.diagnostics import ReportContext
from genlens.report.section import Section

__all__ = ["KEY", "TITLE", "applies", "run"]


def applies(ctx: ReportContext) -> str | None:
    """``None`` when a decoder was given, else why the view is skipped."""
    if ctx.option(KEY, "decoder") is None:
        return "no decoder given: the latent-manifold view analyses a decoder (options['manifold']['decoder'])"
    return None


def run(ctx: ReportContext) -> Section:
    from genlens.manifold.analyze import analyze
    from genlens.manifold.decoders import load_decoder

    spec = ctx.option(KEY, "decoder")
    latent_dim = ctx.option(KEY, "latent_dim")
    name = spec if isinstance(spec, str) else getattr(spec, "__qualname__", "decoder")
    if isinstance(spec, str):
        loaded = load_decoder(spec, ctx.option(KEY, "checkpoint"))
        decoder, latent_dim = loaded.decoder, latent_dim or loaded.latent_dim
    else:
        decoder = spec
    if latent_dim is None:
        raise ConfigError("the latent-manifold view needs options['manifold']['latent_dim']")
    result = analyze(
        decoder,
        int(latent_dim),
        int(ctx.option(KEY, "n", 1000)),
        mode=ctx.option(KEY, "mode", "full"),
        classes=ctx.option(KEY, "classes"),
        include_h0=bool(ctx.option(KEY, "include_h0", True)),
        seed=ctx.seed,
        device=ctx.device,
    )
    return build_section(result, name=name)
