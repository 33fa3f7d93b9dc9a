"""Figures of the atlas view: the excess-over-noise heatmap and, per layer, the three atlas panels."""

from __future__ import annotations

import numpy as np

from genlens.atlas.result import AtlasResult, GridResult
from genlens.plotting import pyplot
from genlens.views.section import Figure

KEY = "atlas"
TITLE = "Activation atlas"
#: The view's one family of tests: every cell of every layer and grid (genlens.budget).
TEST_FAMILY = f"{KEY}/cells"


def excess_heatmap(result: AtlasResult, key: str = "js") -> Figure:
    """Divergence minus its noise floor, layers x grid sizes: where the sets part ways beyond chance."""
    layers, grids, table = result.excess_table(key)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2.6 + 1.2 * len(grids), 1.4 + 0.55 * len(layers)))
    # anchored at three standard errors of the excess: a map within noise stays dark, not alarming
    noise = 3.0 * max(g.floor.excess_se[key] for layer in result.layers for g in layer.grids)
    limit = max(float(np.abs(table).max()), noise, 1e-6)
    image = ax.imshow(table, cmap="magma", vmin=min(0.0, float(table.min())), vmax=limit, aspect="auto")
    ax.set_xticks(range(len(grids)), [f"{g}x{g}" for g in grids])
    ax.set_yticks(range(len(layers)), layers)
    for i in range(len(layers)):
        for j in range(len(grids)):
            floor = result.layers[i].grids[j].floor.floor[key]
            ax.text(j, i, f"{table[i, j]:+.3f}\n(floor {floor:.3f})", ha="center", va="center", fontsize=7,
                    color="white" if table[i, j] < 0.6 * limit else "black")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(f"{key.upper()} - noise floor (nats)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    ax.set_title("Where real and generated activations differ\nbeyond sampling noise", fontsize=9)
    return Figure.from_matplotlib(f"excess-{key}", fig, caption=(
        f"{key.upper()} between one real half and an equal fake sample, minus the same between two real halves "
        f"(mean of {result.layers[0].grids[0].floor.splits} splits). Near 0: within noise."))


def _panel(ax, values: np.ndarray, grid: int, title: str, cmap: str, vmin: float, vmax: float,
           mask: np.ndarray | None = None):
    image = values.reshape(grid, grid).astype(float)
    if mask is not None:
        image = np.ma.masked_where(mask.reshape(grid, grid), image)
    handle = ax.imshow(image, origin="upper", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return handle


def atlas_panels(result: AtlasResult, layer_name: str, grid: GridResult) -> Figure:
    """Real density, generated density and the smoothed log density ratio on the shared layout."""
    g = grid.grid
    empty = (grid.counts_real + grid.counts_fake) == 0
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    top = max(grid.counts_real.max() / grid.counts_real.sum(), grid.counts_fake.max() / grid.counts_fake.sum())
    _panel(axes[0], grid.counts_real / grid.counts_real.sum(), g, f"real ({int(grid.counts_real.sum())})",
           "Blues", 0, top, empty)
    _panel(axes[1], grid.counts_fake / grid.counts_fake.sum(), g, f"generated ({int(grid.counts_fake.sum())})",
           "Oranges", 0, top, empty)
    limit = max(float(np.abs(grid.log_ratio[~empty]).max()) if (~empty).any() else 1.0, 1e-6)
    handle = _panel(axes[2], grid.log_ratio, g, "log(generated / real), smoothed", "RdBu_r", -limit, limit, empty)
    significant = np.flatnonzero(grid.p_family <= result.family_alpha)  # the findings' rule (genlens.atlas.section)
    axes[2].scatter(significant % g, significant // g, s=6, c="black", marker="x", linewidths=0.6)
    bar = fig.colorbar(handle, ax=axes[2], fraction=0.046)
    bar.set_label("log ratio", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.suptitle(f"{layer_name}, {g}x{g} grid (x: cells beyond noise)", fontsize=10)
    return Figure.from_matplotlib(f"atlas-{layer_name}-{g}".replace(".", "_"), fig, caption=(
        "Blue in the ratio panel: regions the generator under-produces; red: regions it over-produces."))


def icon_sheet(layer_name: str, grid: GridResult) -> Figure | None:
    """The rendered icons placed at their cells (the atlas picture itself)."""
    if grid.icons is None or grid.icon_cells is None or len(grid.icon_cells) == 0:
        return None
    g, size = grid.grid, grid.icons.shape[1]
    canvas = np.full((g * size, g * size, 3), 255, dtype=np.uint8)
    for cell, icon in zip(grid.icon_cells, grid.icons):
        r, c = divmod(int(cell), g)
        canvas[r * size:(r + 1) * size, c * size:(c + 1) * size] = icon
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(canvas)
    ax.set_axis_off()
    ax.set_title(f"{layer_name}: icons of the {g}x{g} cells", fontsize=9)
    return Figure.from_matplotlib(f"icons-{layer_name}-{g}".replace(".", "_"), fig)


def all_figures(result: AtlasResult) -> list[Figure]:
    figures = [excess_heatmap(result)]
    for layer in result.layers:
        grid = min(layer.grids, key=lambda gr: gr.grid)
        figures.append(atlas_panels(result, layer.layer, grid))
        sheet = next((icon_sheet(layer.layer, gr) for gr in layer.grids if gr.icons is not None), None)
        if sheet is not None:
            figures.append(sheet)
    return figures
