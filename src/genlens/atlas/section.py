"""The atlas result as a report :class:`~genlens.views.section.Section`."""

from __future__ import annotations

from genlens.atlas.figures import KEY, TITLE, all_figures
from genlens.atlas.result import AtlasResult
from genlens.views.section import Section, Table


def build_section(result: AtlasResult) -> Section:
    """Summary sentence from the largest JS excess over the noise floor; a table per layer and grid."""
    layer, grid, excess, se = result.headline()
    floor = result.layer(layer).grids[[g.grid for g in result.layer(layer).grids].index(grid)].floor.floor["js"]
    if excess > 0.5 * floor:
        summary = (f"Real and generated activations part ways most in {layer} at {grid}x{grid}: JS exceeds its "
                   f"noise floor by {excess:.3f} nats (floor {floor:.3f}).")
    else:
        summary = (f"No layer's activation density differs clearly beyond sampling noise (largest JS excess "
                   f"{excess:.3f} nats in {layer} at {grid}x{grid}, floor {floor:.3f}).")
    rows = tuple(
        (lr.layer, g.grid, round(g.divergences["kl_real_fake"], 4), round(g.divergences["kl_fake_real"], 4),
         round(g.divergences["js"], 4), round(g.floor.floor["js"], 4), round(g.floor.excess["js"], 4),
         g.significant_cells)
        for lr in result.layers for g in lr.grids
    )
    table = Table(("layer", "grid", "KL(real||fake)", "KL(fake||real)", "JS", "JS noise floor", "JS excess",
                   "cells FDR<5%"), rows)
    return Section(key=KEY, title=TITLE, summary=summary, figures=tuple(all_figures(result)), table=table,
                   data=result.to_dict(), notes=result.notes + (
                       f"KL smoothed with pseudo-count {result.alpha} over all cells; JS unsmoothed; nats; "
                       f"layout: {result.layout['method']} ({result.layout['mode']} fit).",))
