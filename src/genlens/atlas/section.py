"""The atlas result as a report :class:`~genlens.views.section.Section`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genlens.atlas.figures import KEY, TEST_FAMILY, TITLE, all_figures
from genlens.atlas.result import CELL_TEST, AtlasResult
from genlens.budget import Family
from genlens.views.section import Finding, Section, Table


def family(result: AtlasResult) -> Family:
    """The view's one family: every cell of every layer and grid, adjusted by the permutation max-|z|."""
    cells = sum(int((g.z != 0).sum()) for layer in result.layers for g in layer.grids)
    return Family(TEST_FAMILY, result.family_alpha, cells,
                  f"max-|z| over {result.permutations} permutations of the image labels")


def findings(result: AtlasResult, name_real: Callable[[int], str] | None = None) -> tuple[Finding, ...]:
    """A ``cell`` finding for each listed cell of every layer and grid.

    A cell's evidence is counted per image (:func:`genlens.atlas.stats.cell_permutation_test`): its
    z-score is the generated images' count of activations in it, standardised under permuted image
    labels, and its family-wise p-value the share of permutations whose largest ``|z|`` over every
    cell of every map reaches it. It is significant when that p-value is within the view's share of
    the budget. The score is the cell's ``|z|`` (noise units).
    """
    fam = family(result)
    name = name_real or (lambda i: f"#{i}")
    out = []
    for layer in result.layers:
        for g in layer.grids:
            for c in g.top_cells:
                real_ids = list(dict.fromkeys(e.image_id for e in c.examples_real))  # an image may sit twice
                content = f" (real: mostly {c.classes_real[0][0]})" if c.classes_real else ""
                way = "fewer" if c.z < 0 else "more"
                sentence = (f"{layer.layer} cell ({c.row},{c.col}) of {g.grid}x{g.grid}{content}: {c.n_real} real vs "
                            f"{c.n_fake} generated activations, {way} generated (z = {c.z:+.1f} over images, "
                            f"p = {c.p_family:.2g} over every cell)"
                            + (f"; real examples: {', '.join(name(i) for i in real_ids[:4])}" if real_ids else ""))
                where = {"layer": layer.layer, "grid": g.grid, "row": c.row, "col": c.col, "n_real": c.n_real,
                         "n_fake": c.n_fake, "real_examples": real_ids,
                         "fake_examples": [e.image_id for e in c.examples_fake]}
                out.append(Finding(KEY, "cell", where, abs(c.z), c.p_family <= fam.alpha, sentence, test=CELL_TEST,
                                   p=c.p_value, family=fam.name, p_family=c.p_family, alpha=fam.alpha))
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
    rows = tuple(
        (lr.layer, g.grid, round(g.divergences["kl_real_fake"], 4), round(g.divergences["kl_fake_real"], 4),
         round(g.divergences["js"], 4), round(g.floor.floor["js"], 4), round(g.floor.excess["js"], 4),
         g.significant_cells(result.family_alpha))
        for lr in result.layers for g in lr.grids
    )
    table = Table(("layer", "grid", "KL(real||fake)", "KL(fake||real)", "JS", "JS noise floor", "JS excess",
                   "cells beyond noise"), rows)
    return Section(key=KEY, title=TITLE, summary=summary(result, found), figures=tuple(all_figures(result)),
                   table=table, data=result.to_dict(), findings=found, families=(family(result),), notes=result.notes + (
                       f"KL smoothed with pseudo-count {result.alpha} over all cells; JS unsmoothed; nats; "
                       f"layout: {result.layout['method']} ({result.layout['mode']} fit).",
                       "a cell's evidence is counted per image, not per activation: its generated count is tested "
                       f"against {result.permutations} permutations of the image labels, and it is beyond noise when "
                       f"the largest |z| over every cell of every layer and grid reaches its own in at most "
                       f"{100 * result.family_alpha:.2g}% of them (the view's share of the report's budget)",))
