"""The atlas diagnostic of tracking: one frozen map of real activations per layer, every step placed on it.

The atlas view fits a fresh joint map for each comparison; over training that would make step 3 and
step 300 incomparable. Tracking fits the map once on real activations
(:class:`~genlens.atlas.layout.AnchoredLayout`), bins it on one grid, and at every step places the
generated activations on it and logs, per layer:

* ``atlas/<layer>/js`` -- Jensen-Shannon divergence (nats) of the real and generated cell histograms;
* ``atlas/<layer>/js_floor`` -- the same statistic between a random subset of the real images of the
  step's size and the remaining real images, averaged over splits: what a perfect generator would
  score (plug-in divergences are biased upwards by ``cells / samples``);
* the per-cell generated counts (an array in the store), from which an event names the cells whose
  share of the divergence grew most, with the real content of each cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlens.atlas import stats
from genlens.atlas.layout import AnchoredLayout, LayoutConfig
from genlens.errors import ConfigError, InputError
from genlens.io.base import ImageSource
from genlens.views.base import Measurement, Measurements

#: Splits averaged for the JS noise floor.
FLOOR_SPLITS = 8


def js_metric(layer: str) -> str:
    return f"atlas/{layer}/js"


def floor_metric(layer: str) -> str:
    return f"atlas/{layer}/js_floor"


def counts_name(layer: str) -> str:
    return f"atlas/{layer}/counts"


def layer_of(metric: str) -> str | None:
    """The layer of an ``atlas/<layer>/...`` name (layer names may contain dots, never slashes)."""
    parts = metric.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "atlas" else None


def js_layer(metric: str) -> str | None:
    """The layer whose divergence ``metric`` is (``atlas/<layer>/js``), else ``None``."""
    layer = layer_of(metric)
    return layer if layer is not None and metric == js_metric(layer) else None


@dataclass(frozen=True, eq=False)
class AtlasReference:
    """The frozen real side of the atlas diagnostic (plain arrays; saved as one ``.npz``)."""

    model: str
    model_options: dict[str, Any]
    layers: tuple[str, ...]
    grid: int
    positions: int
    seed: int
    classes: tuple[str, ...]
    layouts: dict[str, AnchoredLayout]
    real_cells: dict[str, np.ndarray]  # (rows,) cell of every real activation (leave-one-image-out placement)
    real_images_of_rows: np.ndarray  # (rows,) image id of every real activation row (same for every layer)
    real_class: dict[str, np.ndarray]  # (grid**2,) most frequent predicted real class per cell, -1 if empty
    boxes: dict[str, np.ndarray]  # (rows, 4) source-pixel box each real activation sees
    images: np.ndarray  # uint8 (n, 3, H, W): the real images, for example patches of a cell

    @property
    def n_images(self) -> int:
        return int(len(self.images))

    def real_counts(self, layer: str) -> np.ndarray:
        return stats.histogram(self.real_cells[layer], self.grid)

    def cell_classes(self, layer: str) -> tuple[str, ...]:
        """Per cell, the name of its most frequent predicted real class (``""`` when unknown)."""
        return tuple(self.classes[c] if c >= 0 and self.classes else "" for c in self.real_class[layer])

    def examples(self, layer: str, cell: int, count: int = 6) -> np.ndarray:
        """Up to ``count`` real patches ``(k, 3, h, w)`` of ``cell`` (resized to one size)."""
        from genlens.io import resize_uint8

        rows = np.flatnonzero(self.real_cells[layer] == cell)[:count]
        if not len(rows):
            return np.zeros((0, 3, 8, 8), dtype=np.uint8)
        side = int(max(int(b[2] - b[0]) for b in self.boxes[layer][rows]))
        patches = []
        for row in rows:
            y0, x0, y1, x1 = (int(v) for v in self.boxes[layer][row])
            patch = torch.from_numpy(self.images[self.real_images_of_rows[row], :, y0:y1, x0:x1].copy())
            patches.append(resize_uint8(patch[None], (side, side))[0].numpy())
        return np.stack(patches)

    # -- persistence ----------------------------------------------------------------------------------
    def header(self) -> dict[str, Any]:
        return {"model": self.model, "model_options": self.model_options, "layers": list(self.layers),
                "grid": self.grid, "positions": self.positions, "seed": self.seed, "classes": list(self.classes)}

    def to_arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"images": self.images, "real_images_of_rows": self.real_images_of_rows}
        for i, layer in enumerate(self.layers):
            out.update(self.layouts[layer].to_arrays(prefix=f"l{i}_"))
            out.update({f"l{i}_cells": self.real_cells[layer], f"l{i}_class": self.real_class[layer],
                        f"l{i}_boxes": self.boxes[layer]})
        return out

    @classmethod
    def from_parts(cls, header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> AtlasReference:
        layers = tuple(header["layers"])
        per = {name: {layer: np.asarray(arrays[f"l{i}_{name}"]) for i, layer in enumerate(layers)}
               for name in ("cells", "class", "boxes")}
        return cls(
            model=header["model"], model_options=dict(header["model_options"]), layers=layers,
            grid=int(header["grid"]), positions=int(header["positions"]), seed=int(header["seed"]),
            classes=tuple(header["classes"]),
            layouts={layer: AnchoredLayout.from_arrays(arrays, prefix=f"l{i}_") for i, layer in enumerate(layers)},
            real_cells=per["cells"], real_images_of_rows=np.asarray(arrays["real_images_of_rows"]),
            real_class=per["class"], boxes=per["boxes"], images=np.asarray(arrays["images"]),
        )


def build_atlas_reference(real: ImageSource, n: int, model: str = "zoo-classifier",
                          model_options: Mapping[str, Any] | None = None, layers: Sequence[str] | None = None,
                          grid: int = 20, positions: int = 2, layout: LayoutConfig | None = None, seed: int = 0,
                          device: str | None = None) -> AtlasReference:
    """Collect real activations of ``n`` images, fit one map per layer, and place the real rows on it."""
    from genlens.atlas import collect_activations
    from genlens.atlas.analysis import top_classes
    from genlens.io import ArraySource

    if grid < 2:
        raise ConfigError(f"the atlas grid must be >= 2 cells per side, got {grid}")
    options = dict(model_options or {})
    atlas_model = _resolve(model, options, tuple(real.image_size), seed)
    images = real.read(0, n)
    acts = collect_activations(atlas_model, {"real": ArraySource(images, name="real")}, layers, positions=positions,
                               seed=seed, device=device)
    config = layout or LayoutConfig(seed=seed)
    layouts, cells, top, boxes = {}, {}, {}, {}
    n_classes = len(atlas_model.classes or ())
    for layer, act in acts.items():
        layouts[layer] = AnchoredLayout.fit(act.values, act.image_id, config)
        cells[layer] = stats.cell_index(layouts[layer].place(act.values, groups=act.image_id), grid)
        top[layer] = top_classes(cells[layer], act.predicted, grid * grid, n_classes, k=1)[:, 0]
        boxes[layer] = act.boxes.astype(np.int32)
    first = next(iter(acts.values()))
    return AtlasReference(
        model=model, model_options=options, layers=tuple(acts), grid=int(grid), positions=int(positions),
        seed=int(seed), classes=tuple(atlas_model.classes or ()), layouts=layouts, real_cells=cells,
        real_images_of_rows=first.image_id.astype(np.int64), real_class=top, boxes=boxes, images=images.numpy(),
    )


def _resolve(model: str, options: Mapping[str, Any], image_size: tuple[int, int], seed: int) -> Any:
    from genlens.atlas import resolve_model

    unknown = set(options) - {"quick", "weights", "input_size"}
    if unknown:
        raise ConfigError(f"unknown atlas model option(s) {sorted(unknown)}; use quick, weights, input_size")
    return resolve_model(model, image_size=image_size, seed=seed, **options)


class AtlasMeter:
    """Per-step atlas values of generated images against an :class:`AtlasReference`."""

    def __init__(self, reference: AtlasReference, image_size: tuple[int, int], device: str | None = None) -> None:
        from genlens.atlas.model import shared_network

        self.ref, self.device = reference, device
        options = reference.model_options
        self.model = _resolve(reference.model, options, image_size, reference.seed)
        found = shared_network(reference.model, options.get("weights", "default"), image_size,
                               options.get("input_size"), reference.seed)
        self._network = found[0] if found is not None else None
        self._floors: dict[tuple[str, int], float] = {}

    def plan(self, passes: Any, images: torch.Tensor) -> None:
        """Plan this step's activations in shared passes (:mod:`genlens.features.shared_pass`)."""
        from genlens.atlas.activations import CONSUMER, PositionSampler, sample_positions

        if self._network is not None:
            sampler = PositionSampler(sample_positions(len(images), self.ref.positions, self.ref.seed), 0)
            passes.plan(CONSUMER, self._network, images, len(images), self.ref.layers, sampler,
                        logits=self.model.classes is not None)

    def __call__(self, images: torch.Tensor, n_boot: int = 0, passes: Any = None) -> Measurements:
        """Per layer: JS (judged), its floor (shown), its standard error over ``n_boot`` resamples of the
        images, and the generated cell counts (an array, from which events name cells). ``passes``: the
        step's shared passes, which give the activations when :meth:`plan` put them there."""
        from genlens.atlas import collect_activations
        from genlens.atlas.activations import CONSUMER
        from genlens.io import ArraySource
        from genlens.statistics import resample_counts, standard_error

        shared = None
        if passes is not None and self._network is not None:
            shared = [passes.take(CONSUMER, self._network, images, len(images), self.model.module)]
        acts = collect_activations(self.model, {"fake": ArraySource(images, name="samples")}, self.ref.layers,
                                   positions=self.ref.positions, seed=self.ref.seed, device=self.device, shared=shared)
        values: dict[str, Measurement] = {}
        arrays: dict[str, np.ndarray] = {}
        for layer in self.ref.layers:
            cells = stats.cell_index(self.ref.layouts[layer].place(acts[layer].values), self.ref.grid)
            fake = stats.histogram(cells, self.ref.grid)
            real = self.ref.real_counts(layer)
            se = float("nan")
            if n_boot >= 2:  # resample whole images: an image's positions are not independent draws
                weights = resample_counts(len(images), n_boot, self.ref.seed)[:, acts[layer].image_id]
                reps = [stats.js(real, np.bincount(cells, weights=w, minlength=self.ref.grid ** 2)) for w in weights]
                se = standard_error(np.array(reps))
            values[js_metric(layer)] = Measurement(stats.js(real, fake), se, False)
            key = (layer, len(images))
            if key not in self._floors:  # the same for every step of the same size: computed once
                self._floors[key] = js_floor(self.ref, layer, len(images))
            values[floor_metric(layer)] = Measurement(self._floors[key])
            arrays[counts_name(layer)] = fake.astype(np.int64)
        return Measurements(values, arrays)


def js_floor(ref: AtlasReference, layer: str, n_fake: int) -> float:
    """The JS a perfect generator of ``n_fake`` images would score against the reference.

    ``m = min(n_fake, n_real // 2)`` random real images play the generated set against the other
    real images, over :data:`FLOOR_SPLITS` splits. The plug-in divergence of two samples of one
    distribution grows like ``1/N_1 + 1/N_2``, so the mean is rescaled from the split's sizes
    ``(n_real - m, m)`` to the step's ``(n_real, n_fake)``.
    """
    from genlens.statistics import floor_over_splits, random_subset

    n_real = ref.n_images
    m = min(int(n_fake), n_real // 2)
    if m < 1:
        raise InputError("the atlas noise floor needs at least 2 real images")
    rng = np.random.default_rng(ref.seed)
    cells, owner = ref.real_cells[layer], ref.real_images_of_rows

    def split_js(pseudo_fake_images: np.ndarray) -> float:
        pseudo_fake = np.zeros(n_real, dtype=bool)
        pseudo_fake[pseudo_fake_images] = True
        chosen = pseudo_fake[owner]
        return stats.js(stats.histogram(cells[~chosen], ref.grid), stats.histogram(cells[chosen], ref.grid))

    mean = floor_over_splits(split_js, ((random_subset(n_real, m, rng),) for _ in range(FLOOR_SPLITS)))
    scale = (1 / n_real + 1 / int(n_fake)) / (1 / (n_real - m) + 1 / m)
    return float(mean * scale)


@dataclass(frozen=True)
class CellSeries:
    """One layer's per-cell evidence over the steps of one run: the input of cell causes."""

    layer: str
    grid: int
    real_counts: np.ndarray
    fake_counts: Mapping[int, np.ndarray]
    real_class: tuple[str, ...] = ()

    def contributions(self, step: int) -> np.ndarray | None:
        """Each cell's share of the JS divergence at ``step`` (sums to the JS value)."""
        fake = self.fake_counts.get(step)
        if fake is None or fake.sum() == 0:
            return None
        return stats.js_contributions(self.real_counts, fake)

    def describe(self, cell: int, step: int) -> dict[str, Any]:
        """Where ``cell`` is, what real content it holds, and whether the generator over- or under-fills it."""
        fake = self.fake_counts[step]
        real_share = self.real_counts[cell] / max(self.real_counts.sum(), 1)
        fake_share = fake[cell] / max(fake.sum(), 1)
        return {"layer": self.layer, "grid": self.grid, "row": int(cell // self.grid), "col": int(cell % self.grid),
                "real_class": self.real_class[cell] if self.real_class else "",
                "fakes": "more" if fake_share > real_share else "fewer",
                "real_share": float(real_share), "fake_share": float(fake_share)}


def cell_series(arrays: Any, run: str, ref: AtlasReference) -> list[CellSeries]:
    """The :class:`CellSeries` of every atlas layer logged for ``run``; ``arrays(run, name)`` reads the
    store's ``{step: array}`` of one name."""
    out = []
    for layer in ref.layers:
        counts = arrays(run, counts_name(layer))
        if counts:
            out.append(CellSeries(layer, ref.grid, ref.real_counts(layer), counts, ref.cell_classes(layer)))
    return out


# -- events and the tracking report --------------------------------------------------------------------
def cell_causes(cells: Sequence[CellSeries], evidence: Any, layer: str | None) -> list[dict[str, Any]]:
    """Cells of one layer whose JS term grew most: the event's own layer, else the one whose JS rose most."""
    from genlens.views.base import shares

    prev, step = evidence.prev, evidence.step
    growth = {}
    for series in cells:
        old, new = series.contributions(prev), series.contributions(step)
        if old is not None and new is not None:
            growth[series.layer] = (series, new - old)
    if layer not in growth:
        rising = {name: float(g.sum()) for name, (_, g) in growth.items() if g.sum() > 0}
        if not rising:
            return []
        layer = max(rising, key=rising.get)
    series, change = growth[layer]
    parts = shares({str(c): float(change[c]) for c in np.flatnonzero(change > 0)}, "cell", int,
                   evidence.rule.max_causes, evidence.rule.min_share)
    out = []
    for cause in parts:
        where = series.describe(cause["id"], step)
        label = f" ({where['real_class']})" if where["real_class"] else ""
        name = f"{layer} cell ({where['row']},{where['col']}){label}, {where['fakes']} fakes"
        out.append({**cause, **where, "id": f"{layer}:{where['row']},{where['col']}", "name": name})
    return out


def atlas_panels(series: Any, layers: Sequence[str], events: Sequence[Any] = (), highlight: Sequence[str] = ()) -> Any:
    """Per layer: JS divergence of the atlas cells (mean and band over runs) above its noise floor."""
    from genlens.plotting import aligned, mark_events, panel_grid, runs_band

    fig, axes = panel_grid(len(layers))
    for ax, layer in zip(axes, layers):
        runs_band(ax, series, js_metric(layer), "tab:purple", highlight)
        f_steps, floor, _ = aligned(series, floor_metric(layer))
        if floor.size:
            with np.errstate(all="ignore"):
                ax.plot(f_steps, np.nanmean(floor, 0), color="grey", lw=1.0, ls="--")
        mark_events(ax, events, js_metric(layer))
        ax.set_title(f"{layer}: JS (nats, lower is better)", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("activation-atlas divergence (mean and min-max band over runs; dashed: noise floor)", fontsize=10)
    fig.tight_layout()
    return fig


def atlas_event(event: Any, cells: Sequence[CellSeries], atlas: AtlasReference | None) -> Any:
    """The cells an event blames: real density, generated density before and at the step, and real
    example patches of the top cells (what the generator stopped -- or started -- producing)."""
    from matplotlib.patches import Rectangle

    from genlens.plotting import pyplot

    causes = [c for c in event.causes if c["kind"] == "cell"]
    series = next((s for s in cells if causes and s.layer == causes[0]["layer"]), None)
    if series is None or series.fake_counts.get(event.step) is None:
        return None
    steps = sorted(series.fake_counts)
    prev = max((s for s in steps if s < event.step), default=None)
    plt = pyplot()
    n_examples = min(len(causes), 3) if atlas is not None else 0
    fig, axes = plt.subplots(1, 3 + n_examples, figsize=(3.0 * (3 + n_examples), 3.2), squeeze=False)
    axes = axes[0]
    g = series.grid
    panels = [("real", series.real_counts)]
    if prev is not None:
        panels.append((f"generated, step {prev}", series.fake_counts[prev]))
    panels.append((f"generated, step {event.step}", series.fake_counts[event.step]))
    for ax, (title, counts) in zip(axes, panels):
        ax.imshow((counts / max(counts.sum(), 1)).reshape(g, g), cmap="magma", interpolation="nearest", origin="lower")
        for c in causes:
            ax.add_patch(Rectangle((c["col"] - 0.5, c["row"] - 0.5), 1, 1, fill=False, edgecolor="cyan", lw=1.5))
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(panels) : 3]:
        ax.set_visible(False)
    for ax, cause in zip(axes[3:], causes):
        patches = atlas.examples(series.layer, cause["row"] * g + cause["col"], count=4)
        if len(patches):
            ax.imshow(np.concatenate(list(patches.transpose(0, 2, 3, 1)), axis=1), interpolation="nearest")
        ax.set_title(f"cell ({cause['row']},{cause['col']}): {100 * cause['share']:.0f}%\n{cause['fakes']} fakes; real:",
                     fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{event.run}, step {event.step}: {event.metric} {event.direction} by {abs(event.change):.3g} "
                 f"({event.score:.0f} noise units); boxed: the cells whose share of {series.layer}'s divergence grew most",
                 fontsize=9)
    fig.tight_layout()
    return fig


def track_section(result: Any, atlas: AtlasReference | None, cells: Mapping[str, Sequence[CellSeries]]) -> list[Any]:
    """The tracking report's atlas section: divergence per layer over steps, and up to four events' cells."""
    from genlens.views.section import Figure, Section

    logged = {js_layer(m) for m in result.metrics} - {None}
    order = list(atlas.layers) if atlas is not None else sorted(logged)
    layers = [layer for layer in order if layer in logged]
    if not layers:
        return []
    figs = [Figure.from_matplotlib("js", atlas_panels(result.series, layers, result.events, result.highlight))]
    cell_events = [e for e in result.events if any(c["kind"] == "cell" for c in e.causes)]
    shown = sorted({(e.run, e.step) for e in cell_events})[:4]
    for i, (run, step) in enumerate(shown):
        event = max((e for e in cell_events if (e.run, e.step) == (run, step)), key=lambda e: e.score)
        fig = atlas_event(event, cells.get(run, []), atlas)
        if fig is not None:
            figs.append(Figure.from_matplotlib(f"event-{i}", fig, caption=f"{run}, step {step}: {event.metric}"))
    last = {layer: [v for r in result.series.values() for s, v in r.get(js_metric(layer), [])[-1:]] for layer in layers}
    summary = "Jensen-Shannon divergence of activation cells on a map fitted once on real images; " + ", ".join(
        f"{layer}: last {np.nanmean(v):.3f} nats" for layer, v in last.items() if v)
    notes = ("the dashed line is the noise floor: the divergence between a random subset of real images of the "
             "step's size and the other real images, i.e. what a perfect generator would score",
             "generated activations are placed from their nearest real activations (the map is frozen), so "
             "content no real image has lands at the edge of the nearest real cells")
    return [Section("track-atlas", "Activation atlas over steps", summary, tuple(figs), notes=notes,
                    data={"layers": layers, "grid": atlas.grid if atlas is not None else None})]
