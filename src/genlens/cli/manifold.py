"""``genlens manifold``: manifold entropic metrics of a decoder's latent space."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Optional

import typer

from genlens.cli import app
from genlens.cli._views import build_command, option_parameters, options_from
from genlens.manifold.view import ManifoldOptions


def _manifold(values: dict[str, Any]) -> None:
    """Which latent dimensions a decoder uses, and which are entangled (Jacobian-based, no labels)."""
    from genlens._json import write_json
    from genlens.cli._common import console
    from genlens.errors import ConfigError
    from genlens.manifold.analyze import analyze
    from genlens.manifold.decoders import load_decoder
    from genlens.manifold.section import build_section, summary_sentence
    from genlens.views import get_view

    options = options_from(get_view("manifold"), values)
    decoder, latent_dim = options.decoder, options.latent_dim
    if decoder is None:
        raise ConfigError("give --decoder: pkg.module:factory, file.py:factory, or a registered one such as zoo-vae?beta=4")

    def run(spec: str, ckpt: Any):  # noqa: ANN202
        loaded = load_decoder(spec, ckpt, quick=values["quick"])
        if latent_dim is not None and loaded.latent_dim is not None and latent_dim != loaded.latent_dim:
            if spec == decoder:
                raise ConfigError(f"--latent-dim {latent_dim} but {spec} has {loaded.latent_dim} latents")
        d = loaded.latent_dim if loaded.latent_dim is not None else latent_dim
        if d is None:
            raise ConfigError(f"give --latent-dim: {spec} does not say its latent size")
        res = analyze(loaded.decoder, d, options.n, mode=options.mode, classes=options.classes,  # type: ignore[arg-type]
                      include_h0=options.include_h0, inactive_tol=options.inactive_tol, seed=values["seed"],
                      device=values["device"], batch_size=values["batch_size"])
        return loaded, res

    loaded, result = run(decoder, options.checkpoint)
    others = {spec: run(spec, None)[1] for spec in values["compare"]}
    if values["json_out"] is not None:
        write_json(values["json_out"], {**result.to_dict(), "input": loaded.describe})
        console.print(f"wrote {values['json_out']}")
    if values["out"] is not None:
        from genlens.report import write_report

        section = build_section(result, name=decoder, others=others)
        html = write_report([section], values["out"], title="genlens latent manifold", inputs={"decoder": loaded.describe})
        console.print(f"wrote {html}")
    console.print(summary_sentence(result))


_KW = inspect.Parameter.KEYWORD_ONLY
build_command(app, "manifold", [
    *option_parameters(ManifoldOptions),
    inspect.Parameter("json_out", _KW, annotation=Optional[Path], default=typer.Option(
        None, "--json", help="write the result as JSON here")),
    inspect.Parameter("out", _KW, annotation=Optional[Path], default=typer.Option(
        None, "--out", help="write a report (HTML, JSON, figures) to this folder")),
    inspect.Parameter("compare", _KW, annotation=list[str], default=typer.Option(
        [], "--compare", help="another decoder spec to overlay (repeatable)")),
    inspect.Parameter("quick", _KW, annotation=bool, default=typer.Option(
        False, "--quick", help="a registered zoo decoder's small quick variant (seconds to train)")),
    inspect.Parameter("seed", _KW, annotation=int, default=typer.Option(0, "--seed")),
    inspect.Parameter("device", _KW, annotation=Optional[str], default=typer.Option(
        None, "--device", help="cpu, cuda, cuda:1 (default: the decoder's, or auto)")),
    inspect.Parameter("batch_size", _KW, annotation=Optional[int], default=typer.Option(
        None, "--batch-size", help="samples per Jacobian chunk (default: memory)")),
], _manifold, "Which latent dimensions a decoder uses, and which are entangled (Jacobian-based, no labels).")
