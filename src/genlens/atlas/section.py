"""The atlas result as a report :class:`~genlens.views.section.Section`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genlens.atlas.figures import KEY, TITLE, all_figures
from genlens.atlas.result import AtlasResult
from genlens.views.section import Finding, Section, Table


def findings(result: AtlasResult, name_real: Callable[[int], str] | None = None) -> tuple[Finding, ...]:
    """A ``cell`` finding for each listed cell of every layer and grid.

    Each map's q-values control the false discovery rate within that map (Benjamini-Hochberg); a
    cell is significant when its q-value times the number of maps is below 5% (Bonferroni over the
    maps), so a defect-free generator is called different nowhere 95% of the time. The score is that
    adjusted q as a normal score (noise units).
    """
    from genlens.statistics import z_of_p

    maps = sum(len(layer.grids) for layer in result.layers)
    name = name_real or (lambda i: f"#{i}")
    out = []
    for layer in result.layers:
        for g in layer.grids:
            for c in g.top_cells:
                if not np.isfinite(c.q_value):
                    continue
                adjusted = min(1.0, c.q_value * maps)
                real_ids = list(dict.fromkeys(e.image_id for e in c.examples_real))  # an image may sit twice
                content = f" (real: mostly {c.classes_real[0][0]})" if c.classes_real else ""
                way = "fewer" if c.direction == "real_excess" else "more"
                sentence = (f"{layer.layer} cell ({c.row},{c.col}) of {g.grid}x{g.grid}{content}: {c.n_real} real vs "
                            f"{c.n_fake} generated activations, {way} generated (q = {c.q_value:.2g})"
                            + (f"; real examples: {', '.join(name(i) for i in real_ids[:4])}" if real_ids else ""))
                where = {"layer": layer.layer, "grid": g.grid, "row": c.row, "col": c.col, "n_real": c.n_real,
                         "n_fake": c.n_fake, "real_examples": real_ids,
                         "fake_examples": [e.image_id for e in c.examples_fake]}
                out.append(Finding(KEY, "cell", where, z_of_p(adjusted), adjusted < 0.05, sentence))
    return tuple(out)


def summary(result: AtlasResult, found: tuple[Finding, ...]) -> str:
    """The headline from the same evidence as the table: the cells beyond noise, or plainly none."""
    layer, grid, excess, se = result.headline()
    floor = result.layer(layer).grids[[g.grid for g in result.layer(layer).grids].index(grid)].floor.floor["js"]
    significant = sorted((f for f in found if f.significant), key=lambda f: -f.score)
    if significant:
        layers = sorted({f.where["layer"] for f in significant})
        return (f"Real and generated activations part ways in {len(significant)} cell(s) beyond noise "
                f"(in {', '.join(layers)}); strongest: {significant[0].sentence}. Largest JS excess over its "
                f"noise floor: {excess:.3f} nats in {layer} at {grid}x{grid} (floor {floor:.3f}).")
    return (f"No cell of any layer differs beyond sampling noise (largest JS excess {excess:.3f} nats in {layer} "
            f"at {grid}x{grid}, floor {floor:.3f}).")


def build_section(result: AtlasResult, name_real: Callable[[int], str] | None = None) -> Section:
    """Summary from the significant cells; a table per layer and grid; the cells as findings."""
    found = findings(result, name_real)
    maps = sum(len(layer.grids) for layer in result.layers)
    rows = tuple(
        (lr.layer, g.grid, round(g.divergences["kl_real_fake"], 4), round(g.divergences["kl_fake_real"], 4),
         round(g.divergences["js"], 4), round(g.floor.floor["js"], 4), round(g.floor.excess["js"], 4),
         g.significant_cells, int((g.q_value * maps < 0.05).sum()))
        for lr in result.layers for g in lr.grids
    )
    table = Table(("layer", "grid", "KL(real||fake)", "KL(fake||real)", "JS", "JS noise floor", "JS excess",
                   "cells FDR<5% (this map)", "cells beyond noise (all maps)"), rows)
    return Section(key=KEY, title=TITLE, summary=summary(result, found), figures=tuple(all_figures(result)),
                   table=table, data=result.to_dict(), findings=found, notes=result.notes + (
                       f"KL smoothed with pseudo-count {result.alpha} over all cells; JS unsmoothed; nats; "
                       f"layout: {result.layout['method']} ({result.layout['mode']} fit).",
                       f"a cell is beyond noise when its q-value (false discovery rate within its map) times the "
                       f"{maps} maps is below 5%, so a generator as good as the real data shows none 95% of the time",))
