"""The latent-manifold view: which latent dimensions a decoder uses, and which are entangled.

Unlike the other views it looks at a decoder, not at images: it applies when a decoder is given, its
``fit`` loads the decoder, and ``compare`` analyses the decoder's Jacobian under its latent prior
(the generated images play no part). It is not tracked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from genlens.errors import ConfigError
from genlens.io.base import ImageSource
from genlens.manifold.section import KEY, TITLE, build_section
from genlens.views.base import RunContext, View
from genlens.views.options import option
from genlens.views.section import Section


@dataclass(frozen=True)
class ManifoldOptions:
    decoder: Any = option(None, "Decoder: pkg.module:factory, file.py:factory, or a registered one such as "
                          "zoo-vae?beta=4 (the Python API also takes a callable).")
    latent_dim: int | None = option(None, "Latent size d (default: the decoder's own latent_dim).", min=1)
    checkpoint: str | None = option(None, "State dict for the factory's module (loaded with weights_only=True).")
    n: int = option(1000, "Prior samples (more: tighter intervals).", min=2)
    mode: Literal["full", "columns", "stochastic"] = option("full", "full | columns | stochastic.")
    classes: int | None = option(None, "K classes: the decoder is called as g(z, one_hot(c)).", min=1)
    include_h0: bool = option(True, "Report H_i with the constant h0 = 1/2 log(2 pi e) (--no-h0: without it).",
                              flag="--h0")
    inactive_tol: float = option(0.02, "Inactivity threshold, times the output range.", min=0.0)


@dataclass(frozen=True)
class FittedManifold:
    options: ManifoldOptions
    name: str
    decoder: Any
    latent_dim: int


class ManifoldView(View):
    key = KEY
    title = TITLE
    Options = ManifoldOptions

    def applies(self, real: ImageSource | None, fake: ImageSource | None, options: ManifoldOptions) -> str | None:
        if options.decoder is None:
            return "no decoder given: the latent-manifold view analyses a decoder (--decoder)"
        return None

    def fit(self, real: ImageSource | None, options: ManifoldOptions, ctx: RunContext) -> FittedManifold:
        from genlens.manifold.decoders import load_decoder

        spec, latent_dim = options.decoder, options.latent_dim
        name = spec if isinstance(spec, str) else getattr(spec, "__qualname__", "decoder")
        if isinstance(spec, str):
            loaded = load_decoder(spec, options.checkpoint)
            decoder, latent_dim = loaded.decoder, latent_dim or loaded.latent_dim
        else:
            decoder = spec
        if latent_dim is None:
            raise ConfigError("the latent-manifold view needs the decoder's latent size (--latent-dim)")
        return FittedManifold(options, name, decoder, int(latent_dim))

    def compare(self, reference: FittedManifold, fake: ImageSource | None, ctx: RunContext) -> Any:
        from genlens.manifold.analyze import analyze

        o = reference.options
        return analyze(reference.decoder, reference.latent_dim, o.n, mode=o.mode, classes=o.classes,
                       include_h0=o.include_h0, inactive_tol=o.inactive_tol, seed=ctx.seed, device=ctx.device)

    def section(self, reference: FittedManifold, fake: ImageSource | None, ctx: RunContext) -> Section:
        return build_section(self.compare(reference, fake, ctx), name=reference.name)
