"""The atlas view's frozen results: per layer, per grid size, divergences with their noise floor and
the cells where real and generated activations part ways."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from genlens._json import json_safe
from genlens.atlas.stats import DIVERGENCES, NoiseFloor
from genlens.budget import DEFAULT_ALPHA

#: The test behind a cell's finding.
CELL_TEST = ("generated images' activation count in the cell against permuted image labels (two-sided); "
             "max-|z| over every cell of every layer and grid")


@dataclass(frozen=True)
class Example:
    """One sampled activation: which image of which set, its position on the layer grid, its patch."""

    set_name: str
    image_id: int
    y: int
    x: int
    box: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, Any]:
        return {"set": self.set_name, "image_id": self.image_id, "y": self.y, "x": self.x, "box": list(self.box)}


@dataclass(frozen=True)
class Cell:
    """A cell where the sets differ most (by its share of the Jensen-Shannon divergence)."""

    row: int
    col: int
    n_real: int
    n_fake: int
    log_ratio: float
    js_contribution: float
    z: float  # generated images' activation count in the cell, standardised under permuted image labels
    p_value: float  # two-sided normal p of z: the cell's own test
    p_family: float  # max-|z| permutation adjustment over every cell of every layer and grid
    classes_real: tuple[tuple[str, int], ...]
    classes_fake: tuple[tuple[str, int], ...]
    examples_real: tuple[Example, ...]
    examples_fake: tuple[Example, ...]

    @property
    def direction(self) -> str:
        return "fake_excess" if self.log_ratio > 0 else "real_excess"

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "col": self.col, "n_real": self.n_real, "n_fake": self.n_fake,
            "direction": self.direction, "log_ratio": self.log_ratio, "js_contribution": self.js_contribution,
            "z": self.z, "p_value": self.p_value, "p_family": self.p_family,
            "classes_real": [list(c) for c in self.classes_real], "classes_fake": [list(c) for c in self.classes_fake],
            "examples_real": [e.to_dict() for e in self.examples_real],
            "examples_fake": [e.to_dict() for e in self.examples_fake],
        }


@dataclass(frozen=True)
class GridResult:
    """One grid size of one layer. Arrays are per cell, flat ``row * grid + col``."""

    grid: int
    divergences: dict[str, float]
    floor: NoiseFloor
    counts_real: np.ndarray
    counts_fake: np.ndarray
    log_ratio: np.ndarray
    z: np.ndarray  # per cell: the permutation z-score (positive: generated activations in excess)
    p_family: np.ndarray  # per cell: family-wise adjusted p over every cell of every map
    top_classes_real: np.ndarray  # (cells, 3) class ids, -1 = none
    top_classes_fake: np.ndarray
    top_cells: tuple[Cell, ...]
    icons: np.ndarray | None = None  # (cells, S, S, 3) uint8 for the cells in icon_cells
    icon_cells: np.ndarray | None = None

    def significant_cells(self, alpha: float) -> int:
        """Cells whose family-wise adjusted p-value is within ``alpha``."""
        return int((self.p_family <= alpha).sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid": self.grid,
            **self.divergences,
            "noise_floor": self.floor.floor,
            "matched_half": self.floor.matched,
            "excess": self.floor.excess,
            "excess_se": self.floor.excess_se,
            "noise_splits": self.floor.splits,
            "min_p_family": float(self.p_family.min()) if self.p_family.size else 1.0,
            "occupied_cells": int(((self.counts_real + self.counts_fake) > 0).sum()),
            "top_cells": [c.to_dict() for c in self.top_cells],
        }


@dataclass(frozen=True)
class LayerResult:
    layer: str
    dim: int
    grid_shape: tuple[int, int]
    patch_side: int
    coords: np.ndarray  # (n, 2) unit-square layout of every sampled activation
    set_index: np.ndarray
    grids: tuple[GridResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dim": self.dim, "grid_shape": list(self.grid_shape), "n_activations": int(len(self.set_index)),
            "grids": {str(g.grid): g.to_dict() for g in self.grids},
        }


@dataclass(frozen=True)
class AtlasResult:
    """Everything the atlas found; ``to_dict`` is the JSON of ``genlens atlas --json``."""

    model: dict[str, Any]
    layers: tuple[LayerResult, ...]
    classes: tuple[str, ...] | None
    alpha: float
    positions: int
    seed: int
    layout: dict[str, Any]
    real: dict[str, Any]
    fake: dict[str, Any]
    n_real: int
    n_fake: int
    notes: tuple[str, ...] = field(default=())
    permutations: int = 0  # label permutations of the cells' test
    family_alpha: float = DEFAULT_ALPHA  # the view's share of the false-alarm budget (one family: every cell)

    def judged(self, alpha: float) -> AtlasResult:
        """The same result, its cells judged at ``alpha`` (the view's share of the false-alarm budget)."""
        return replace(self, family_alpha=alpha)

    def layer(self, name: str) -> LayerResult:
        return next(layer for layer in self.layers if layer.layer == name)

    def excess_table(self, key: str = "js") -> tuple[list[str], list[int], np.ndarray]:
        """``(layers, grids, excess[layer, grid])`` of divergence ``key`` over its noise floor."""
        grids = [g.grid for g in self.layers[0].grids]
        table = np.array([[g.floor.excess[key] for g in layer.grids] for layer in self.layers])
        return [layer.layer for layer in self.layers], grids, table

    def headline(self) -> tuple[str, int, float, float]:
        """(layer, grid, excess JS, its standard error) of the largest excess over the noise floor."""
        best = max(((layer, g) for layer in self.layers for g in layer.grids), key=lambda lg: lg[1].floor.excess["js"])
        return best[0].layer, best[1].grid, best[1].floor.excess["js"], best[1].floor.excess_se["js"]

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "model": self.model,
            "classes": list(self.classes) if self.classes else None,
            "pseudo_count": self.alpha,
            "divergence_units": "nats",
            "divergences": list(DIVERGENCES),
            "positions_per_image": self.positions,
            "seed": self.seed,
            "layout": self.layout,
            "real": self.real,
            "fake": self.fake,
            "n_real_images": self.n_real,
            "n_fake_images": self.n_fake,
            "layers": {layer.layer: layer.to_dict() for layer in self.layers},
            "cell_test": {"test": CELL_TEST, "permutations": self.permutations, "alpha": self.family_alpha},
            "notes": list(self.notes),
        })
