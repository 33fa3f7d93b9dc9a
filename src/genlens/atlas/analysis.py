"""The atlas pipeline: activations -> layout -> grids and statistics (-> icons), one call."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from pathlib import Path

import numpy as np

from genlens.atlas.activations import (
    CONSUMER,
    LayerActivations,
    PositionSampler,
    collect_activations,
    sample_positions,
)
from genlens.atlas.layout import Layout, LayoutConfig, fit_layout
from genlens.atlas.model import AtlasModel, resolve_model, shared_network
from genlens.atlas.result import AtlasResult, Cell, Example, GridResult, LayerResult
from genlens.atlas import stats
from genlens.errors import ConfigError, TooFewSamplesError
from genlens.features.shared_pass import SharedPasses
from genlens.io.base import ImageSource

SET_NAMES = ("real", "fake")
MIN_IMAGES = 20


def analyze_atlas(
    real: ImageSource,
    fake: ImageSource,
    model: str | AtlasModel = "zoo-classifier",
    layers: Sequence[str] | None = None,
    grids: Sequence[int] = (20, 40, 80),
    positions: int = 1,
    max_images: int | None = 5000,
    layout: LayoutConfig = LayoutConfig(),
    shared_layouts: MutableMapping[str, Layout] | None = None,
    alpha: float = 0.5,
    splits: int = 8,
    top_k: int = 8,
    examples: int = 6,
    attribution: bool = False,
    icons: bool = False,
    icon_grid: int | None = None,
    icon_steps: int = 48,
    icon_size: int | None = None,
    weights: str | Path = "default",
    input_size: int | None = None,
    quick: bool = False,
    seed: int = 0,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    passes: SharedPasses | None = None,
    permutations: int = 4000,
) -> AtlasResult:
    """Compare ``real`` and ``fake`` in the activation space of ``model`` (see :mod:`genlens.atlas`).

    ``input_size`` resizes images to that side before the network (default: the network's own, 224
    for torchvision models). ``alpha`` is the KL pseudo-count; ``splits`` the number of real half-splits averaged for the
    noise floor; ``icons`` renders a feature-visualisation icon per occupied cell of ``icon_grid``
    (default: the smallest grid).

    ``shared_layouts`` lets many checkpoints share one map: pass the same (initially empty) dict to
    every call; a layer's layout is fitted on the first call and only ``place``-d afterwards. Use it
    with ``LayoutConfig(mode="reference")`` so the map is fitted on real activations alone.

    ``passes``: a report's shared network passes (:func:`plan_atlas` planned this call's), which give
    the activations when another view reads the same network on the same images.

    ``permutations`` of the image labels give every cell its family-wise p-value, over all cells of
    all layers and grids at once (:func:`genlens.atlas.stats.cell_permutation_test`)."""
    for name, src in (("real", real), ("fake", fake)):
        n = min(len(src), max_images or len(src))
        if n < MIN_IMAGES:
            raise TooFewSamplesError(f"{name} images for the atlas", n, MIN_IMAGES)
    if not grids or min(grids) < 2:
        raise ConfigError(f"grid sizes must be integers >= 2, got {list(grids)}")
    atlas_model = model if isinstance(model, AtlasModel) else resolve_model(
        model, weights=weights, image_size=tuple(real.image_size), input_size=input_size, quick=quick, seed=seed)
    shared = None
    network = shared_network(atlas_model.name, weights, real.image_size, input_size, seed)
    if passes is not None and network is not None and not attribution:
        shared = [passes.take(CONSUMER, network[0], src, min(len(src), max_images or len(src)), atlas_model.module)
                  for src in (real, fake)]
    acts = collect_activations(atlas_model, {"real": real, "fake": fake}, layers, positions=positions, seed=seed,
                               max_images=max_images, attribution=attribution, device=device, shared=shared)
    classes = atlas_model.classes
    coords_of = {}
    for layer, act in acts.items():
        if shared_layouts is not None and layer in shared_layouts:
            coords_of[layer] = shared_layouts[layer].place(act.values)
        else:
            fitted, coords_of[layer] = fit_layout(act.values, act.set_index, layout)
            if shared_layouts is not None:
                shared_layouts[layer] = fitted
    grids = sorted(grids)
    test = cell_test(acts, coords_of, grids, permutations, seed)
    tested = iter(zip(test.z, test.p_normal, test.p_family))  # one map per layer and grid, in this order
    layer_results = []
    for layer, act in acts.items():
        coords = coords_of[layer]
        grid_results = tuple(
            grid_statistics(act, coords, g, alpha, splits, top_k, examples, classes, seed, *next(tested))
            for g in grids
        )
        if icons:
            from genlens.atlas.icons import IconConfig, render_cell_icons

            target = icon_grid or min(grids)
            config = IconConfig(steps=icon_steps, size=icon_size or min(atlas_model.input_size[0], 64), seed=seed)
            grid_results = tuple(
                render_cell_icons(atlas_model, layer, act, coords, g, config, device, cache_dir, real)
                if g.grid == target else g for g in grid_results
            )
        layer_results.append(LayerResult(
            layer=layer, dim=int(act.values.shape[1]), grid_shape=act.grid_shape,
            patch_side=int((act.boxes[:, 2] - act.boxes[:, 0]).max()),
            coords=coords.astype(np.float32), set_index=act.set_index, grids=grid_results,
        ))
    first = next(iter(acts.values()))
    n_real, n_fake = (int(len(np.unique(first.image_id[first.set_index == s]))) for s in (0, 1))
    notes = ()
    if n_real < 2 * 400:
        notes = (f"only {n_real} real images: the noise floor (half-splits) is itself noisy; use >= 1000",)
    return AtlasResult(
        model=atlas_model.to_dict(), layers=tuple(layer_results), classes=classes, alpha=alpha,
        positions=positions, seed=seed, layout=layout.to_dict(), real=real.describe(), fake=fake.describe(),
        n_real=n_real, n_fake=n_fake, notes=notes, permutations=permutations,
    )


def plan_atlas(passes: SharedPasses, real: ImageSource, fake: ImageSource, model: str, weights: str | Path,
               layers: Sequence[str] | None, positions: int, max_images: int | None, input_size: int | None,
               seed: int) -> None:
    """Plan :func:`analyze_atlas`'s activations of both sets in a report's shared network passes (for
    networks a pass can build; attribution needs its own forward passes and is not planned)."""
    network = shared_network(model, weights, real.image_size, input_size, seed)
    if network is None or not (layers or network[1]):
        return
    net, default_layers, has_classes = network
    counts = [min(len(src), max_images or len(src)) for src in (real, fake)]
    rel = sample_positions(max(counts), positions, seed)
    for set_index, (src, n) in enumerate(zip((real, fake), counts)):
        passes.plan(CONSUMER, net, src, n, tuple(layers or default_layers), PositionSampler(rel, set_index),
                    logits=has_classes)


def top_classes(cells: np.ndarray, predicted: np.ndarray, n_cells: int, n_classes: int, k: int = 3) -> np.ndarray:
    """Per cell, the ``k`` most frequent predicted classes (-1 where fewer than ``k`` occur)."""
    out = np.full((n_cells, k), -1, dtype=np.int64)
    if n_classes == 0:
        return out
    valid = predicted >= 0
    hist = np.bincount(cells[valid] * n_classes + predicted[valid], minlength=n_cells * n_classes)
    hist = hist.reshape(n_cells, n_classes)
    order = np.argsort(-hist, axis=1, kind="stable")[:, :k]
    present = np.take_along_axis(hist, order, axis=1) > 0
    out[:, : order.shape[1]] = np.where(present, order, -1)
    return out


def image_keys(act: LayerActivations) -> tuple[np.ndarray, np.ndarray]:
    """Each activation's image as one index over both sets, and whether each image is generated."""
    offset = int(act.image_id.max()) + 1  # generated images' keys start here
    unique, key = np.unique(act.set_index.astype(np.int64) * offset + act.image_id.astype(np.int64), return_inverse=True)
    return key, unique >= offset


def cell_test(acts: dict[str, LayerActivations], coords_of: dict[str, np.ndarray], grids: Sequence[int],
              permutations: int, seed: int) -> stats.CellTest:
    """Every cell of every layer's grids tested at once, with images as the unit (maps: layers x grids)."""
    maps, is_fake = [], None
    for layer, act in acts.items():
        key, is_fake = image_keys(act)
        for g in grids:
            maps.append(stats.image_counts(stats.cell_index(coords_of[layer], g), key, len(is_fake), g * g))
    return stats.cell_permutation_test(maps, is_fake, permutations, seed)


def grid_statistics(act: LayerActivations, coords: np.ndarray, grid: int, alpha: float, splits: int, top_k: int,
                    examples: int, classes: tuple[str, ...] | None, seed: int, z: np.ndarray,
                    p_normal: np.ndarray, p_family: np.ndarray) -> GridResult:
    """Everything per grid: counts, divergences, noise floor, the cells' tests, top classes, the top cells
    (the ``top_k`` with the largest permutation ``|z|``)."""
    cells = stats.cell_index(coords, grid)
    is_real, is_fake = act.set_index == 0, act.set_index == 1
    r = stats.histogram(cells[is_real], grid)
    g = stats.histogram(cells[is_fake], grid)
    floor = stats.noise_floor(cells[is_real], act.image_id[is_real], cells[is_fake], act.image_id[is_fake],
                              grid, alpha, splits, seed)
    ratio = stats.log_ratio(r, g, alpha)
    contrib = stats.js_contributions(r, g)
    n_classes = len(classes) if classes else 0
    top_real = top_classes(cells[is_real], act.predicted[is_real], grid * grid, n_classes)
    top_fake = top_classes(cells[is_fake], act.predicted[is_fake], grid * grid, n_classes)
    means, _ = stats.cell_means(act.values, cells, grid * grid)
    real_rows, fake_rows = np.flatnonzero(is_real), np.flatnonzero(is_fake)

    def example_list(rows: np.ndarray, cell: int, set_name: str) -> tuple[Example, ...]:
        picked = stats.nearest_to_mean(act.values, cells, means, rows, cell, examples)
        return tuple(Example(set_name, int(act.image_id[i]), int(act.yx[i, 0]), int(act.yx[i, 1]),
                             tuple(int(v) for v in act.boxes[i])) for i in picked)

    def class_counts(cell: int, rows: np.ndarray) -> tuple[tuple[str, int], ...]:
        if not classes:
            return ()
        member = rows[cells[rows] == cell]
        hist = np.bincount(act.predicted[member][act.predicted[member] >= 0], minlength=n_classes)
        return tuple((classes[c], int(hist[c])) for c in np.argsort(-hist, kind="stable")[:3] if hist[c] > 0)

    top = np.lexsort((-contrib, -np.abs(z)))[:top_k]
    top_cells = tuple(
        Cell(row=int(c // grid), col=int(c % grid), n_real=int(r[c]), n_fake=int(g[c]), log_ratio=float(ratio[c]),
             js_contribution=float(contrib[c]), z=float(z[c]), p_value=float(p_normal[c]), p_family=float(p_family[c]),
             classes_real=class_counts(c, real_rows), classes_fake=class_counts(c, fake_rows),
             examples_real=example_list(real_rows, c, "real"), examples_fake=example_list(fake_rows, c, "fake"))
        for c in top if z[c] != 0
    )
    return GridResult(grid=grid, divergences=stats.divergences(r, g, alpha), floor=floor, counts_real=r, counts_fake=g,
                      log_ratio=ratio, z=z, p_family=p_family, top_classes_real=top_real, top_classes_fake=top_fake,
                      top_cells=top_cells)
