"""``genlens regions``: pixel clusters of the real data and the cluster-wise CMS of a generator."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Optional

import typer

from genlens.cli import app
from genlens.cli._views import build_command, inputs, option_parameters, options_from, outputs
from genlens.regions.view import RegionsOptions

_KW = inspect.Parameter.KEYWORD_ONLY


def _run(values: dict[str, Any]) -> None:
    from genlens._device import resolve_device
    from genlens._fs import atomic_write_bytes
    from genlens.cli._common import write_json
    from genlens.errors import ConfigError
    from genlens.io.sources import open_source
    from genlens.regions.figures import cluster_map, cms_bars, deficit_map, ordered_cka
    from genlens.budget import check_alpha
    from genlens.views import RunContext, get_view

    view = get_view("regions")
    options = options_from(view, values)
    if options.partition is not None and options.clusters is not None:
        raise ConfigError("--clusters and --partition exclude each other: a saved partition fixes the clusters")
    device = values["device"]
    ctx = RunContext(device=str(resolve_device(None if device == "auto" else device)), seed=values["seed"],
                     alpha=check_alpha(values["alpha"]))
    real, fake = open_source(values["real"]), open_source(values["fake"])
    reason = view.applies(real, fake, options)
    if reason is not None:
        from genlens.errors import InputError

        raise InputError(reason)
    result = view.compare(view.fit(real, options, ctx), fake, ctx)
    if values["save_partition"]:
        result.partition.save(values["save_partition"])
    if values["json_out"]:
        write_json(values["json_out"], result.to_dict())
    if values["out"]:
        for fig in (cluster_map(result), ordered_cka(result), cms_bars(result), deficit_map(result)):
            if fig is not None:
                atomic_write_bytes(Path(values["out"]) / f"regions-{fig.name}.png", fig.png)
    typer.echo(result.to_section().summary)
    for c in result.clusters:
        flag = "  <- below floor" if c.significant else ""
        typer.echo(
            f"  cluster {c.id:>2} ({c.n_pixels:>5} px): CMS {c.cms:.5f} "
            f"[{c.ci[0]:.5f}, {c.ci[1]:.5f}]  floor {c.floor:.5f}  share {c.share:6.1%}{flag}"
        )


PARAMETERS = [
    *inputs(),
    *option_parameters(RegionsOptions),
    inspect.Parameter("save_partition", _KW, annotation=Optional[Path], default=typer.Option(
        None, "--save-partition", show_default=False,
        help="Save the partition used (.npz keeps the CKA matrix; .json is smaller) for later checkpoints.")),
    *outputs("Write the figures (PNG) into this folder.", "Seed for bootstrap resamples and real half-splits."),
]

build_command(app, "regions", PARAMETERS, _run, """Split the image into nearly independent pixel clusters (pixel-wise
CKA on REAL) and report, per cluster, the cosine similarity of kernel mean embeddings (CMS) of FAKE vs REAL.

Example: genlens regions zoo:real?n=500 'zoo:blur_region?box=8,8,20,20&n=500' -k 8 --json regions.json --out regions/
""")
