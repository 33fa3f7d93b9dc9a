"""``genlens manifold``: manifold entropic metrics of a decoder's latent space."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from genlens.cli import app


@app.command()
def manifold(
    decoder: str = typer.Option(
        ..., "--decoder", help="pkg.module:factory, file.py:factory, or the built-in zoo-vae:beta=4[,latent_dim=10]"
    ),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="state dict for the factory's module"),
    latent_dim: Optional[int] = typer.Option(None, "--latent-dim", help="latent size d (else decoder.latent_dim)"),
    n: int = typer.Option(1000, "--n", help="prior samples (more: tighter intervals)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the result as JSON here"),
    out: Optional[Path] = typer.Option(None, "--out", help="write a report (HTML, JSON, figures) to this folder"),
    mode: str = typer.Option("full", "--mode", help="full | columns | stochastic"),
    classes: Optional[int] = typer.Option(None, "--classes", help="K classes: decoder called as g(z, one_hot(c))"),
    compare: list[str] = typer.Option([], "--compare", help="another decoder spec to overlay (repeatable)"),
    no_h0: bool = typer.Option(False, "--no-h0", help="report H_i without the constant h0 = 1/2 log(2 pi e)"),
    inactive_tol: float = typer.Option(0.02, "--inactive-tol", help="inactivity threshold, x output range"),
    quick: bool = typer.Option(False, "--quick", help="use the small quick zoo-vae (seconds to train)"),
    seed: int = typer.Option(0, "--seed"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: the decoder's, or auto)"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="samples per Jacobian chunk (default: memory)"),
) -> None:
    """Which latent dimensions a decoder uses, and which are entangled (Jacobian-based, no labels)."""
    from genlens._json import write_json
    from genlens.cli._common import console
    from genlens.errors import ConfigError
    from genlens.manifold.analyze import analyze
    from genlens.manifold.decoders import load_decoder
    from genlens.manifold.section import build_section, summary_sentence

    def run(spec: str, ckpt: Optional[Path]):  # noqa: ANN202
        loaded = load_decoder(spec, ckpt, quick=quick)
        if latent_dim is not None and loaded.latent_dim is not None and latent_dim != loaded.latent_dim:
            if spec == decoder:
                raise ConfigError(f"--latent-dim {latent_dim} but {spec} has {loaded.latent_dim} latents")
        d = loaded.latent_dim if loaded.latent_dim is not None else latent_dim
        if d is None:
            raise ConfigError(f"give --latent-dim: {spec} does not say its latent size")
        res = analyze(loaded.decoder, d, n, mode=mode, classes=classes, include_h0=not no_h0,  # type: ignore[arg-type]
                      inactive_tol=inactive_tol, seed=seed, device=device, batch_size=batch_size)
        return loaded, res

    loaded, result = run(decoder, checkpoint)
    others = {spec: run(spec, None)[1] for spec in compare}
    if json_out is not None:
        write_json(json_out, {**result.to_dict(), "input": loaded.describe})
        console.print(f"wrote {json_out}")
    if out is not None:
        from genlens.report import write_report

        section = build_section(result, name=decoder, others=others)
        html = write_report([section], out, title="genlens latent manifold", inputs={"decoder": loaded.describe})
        console.print(f"wrote {html}")
    console.print(summary_sentence(result))
