"""``genlens atlas``: where in a network's activation space real and generated images part ways."""

from __future__ import annotations

from typing import Any


from genlens.atlas.view import AtlasOptions
from genlens.cli import app
from genlens.cli._views import build_command, inputs, option_parameters, options_from, outputs



def _run(values: dict[str, Any]) -> None:
    from genlens._fs import atomic_write_bytes
    from genlens.atlas.figures import all_figures
    from genlens.atlas.viewer import write_viewer
    from genlens.cli._common import console, write_json
    from genlens.errors import ConfigError
    from genlens.io.sources import open_source
    from genlens.budget import check_alpha
    from genlens.views import RunContext, get_view

    view = get_view("atlas")
    options = options_from(view, values)
    if not options.grids:
        raise ConfigError("--grid is empty; give comma-separated integers, e.g. 20,40,80")
    if options.method not in (None, "umap", "pca") or options.layout not in ("joint", "reference"):
        raise ConfigError("--method must be umap or pca and --layout joint or reference")
    device = values["device"]
    ctx = RunContext(device=None if device == "auto" else device, seed=values["seed"], alpha=check_alpha(values["alpha"]))
    real, fake = open_source(values["real"]), open_source(values["fake"])
    result = view.compare(view.fit(real, options, ctx), fake, ctx)
    if values["json_out"]:
        write_json(values["json_out"], result.to_dict())
    out = values["out"]
    if out:
        out.mkdir(parents=True, exist_ok=True)
        for figure in all_figures(result):
            atomic_write_bytes(out / f"{figure.name}.png", figure.png)
        write_viewer(result, real, fake, out / "atlas.html")
    for layer in result.layers:
        for g in layer.grids:
            console.print(
                f"{layer.layer:>14} {g.grid:>3}x{g.grid:<3} JS {g.divergences['js']:.4f}  floor {g.floor.floor['js']:.4f}"
                f"  excess {g.floor.excess['js']:+.4f}  KL(r||f) {g.divergences['kl_real_fake']:.4f}"
                f"  KL(f||r) {g.divergences['kl_fake_real']:.4f}  cells beyond noise {g.significant_cells(result.family_alpha)}",
                markup=False, highlight=False,
            )


PARAMETERS = [
    *inputs(),
    *option_parameters(AtlasOptions, exclude=("viewer",)),
    *outputs("Write figures and the viewer page (atlas.html) here.", "Seed for positions, layout and half-splits."),
]

build_command(app, "atlas", PARAMETERS, _run, """Lay out sampled activations of REAL and FAKE in 2-D, bin them on
grids and report, per layer and grid, KL both ways and Jensen-Shannon with a noise floor from real half-splits, the
cells that differ most with example patches, and an interactive viewer page.

Example: genlens atlas zoo:real?n=1000 'zoo:drop_class?name=car&n=1000' --layers block3,block4 --grid 20,40 --json atlas.json --out atlas/
""")
