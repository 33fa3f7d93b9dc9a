"""The activation-atlas view: where in a network's activation space real and generated images part ways.

``compare`` lays out sampled activations of both sets jointly in 2-D, bins them on grids and reports
KL both ways and Jensen-Shannon per layer and grid against a real-vs-real noise floor, the cells that
differ most with examples, and an interactive viewer. Tracking instead fits one map on the real
activations (:mod:`genlens.atlas.tracking`) and ``measure`` places every step's activations on it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from genlens._fs import atomic_path, atomic_write_text
from genlens.atlas.figures import KEY, TEST_FAMILY, TITLE
from genlens.atlas.tracking import (
    AtlasMeter,
    AtlasReference,
    build_atlas_reference,
    cell_causes,
    cell_series,
    js_layer,
    layer_of,
    track_section,
)
from genlens.io.base import ImageSource
from genlens.views.base import Measurements, RunContext, StepEvidence, View
from genlens.views.options import option
from genlens.views.section import Section

#: Networks without weights to download, for images that name no network of their own.
GENERIC_MODEL = "random-vgg16"


@dataclass(frozen=True)
class AtlasOptions:
    model: str | None = option(None, "Network: random-vgg16, torchvision:<arch> (see --weights) or "
                               "pkg.module:factory (an nn.Module taking floats in [0, 1]); default: the images' own "
                               "network if they have one (zoo images: zoo-classifier), else random-vgg16.")
    weights: str = option("default", "For torchvision:<arch>: default, random or a state-dict PATH.")
    layers: tuple[str, ...] | None = option(None, "Comma-separated module names (default: a set per model).")
    grids: tuple[int, ...] = option((20, 40, 80), "Grid sizes, comma-separated.", flag="--grid")
    positions: int = option(4, "Random spatial positions sampled per image.", min=1)
    max_images: int | None = option(2000, "Use at most the first N images of each input.", flag="--n", min=20)
    layout: Literal["joint", "reference"] = option("joint", "joint (fit on a balanced pool) or reference (fit on "
                                                   "REAL, place FAKE: one map shared by many checkpoints).")
    method: Literal["umap", "pca"] | None = option(None, "umap (Distill's settings) or pca (fast, coarser); "
                                                   "default umap, pca with --quick.")
    pseudo_count: float = option(0.5, "KL pseudo-count per cell (0.5 = Jeffreys).", min=1e-6)
    splits: int = option(8, "Real half-splits averaged for the noise floor.", min=1)
    permutations: int = option(4000, "Permutations of the image labels that test every cell at once (its p-value "
                               "cannot fall below 1/(permutations+1)).", min=99)
    icons: bool = option(False, "Render a feature-visualisation icon per cell of the smallest grid.")
    icon_steps: int = option(48, "Optimisation steps per icon batch.", min=1)
    attribution: bool = option(False, "Also record activation x gradient for every logit.")
    quick: bool = option(False, "The zoo classifier's small quickly trained variant.")
    viewer: bool = option(True, "Write the interactive viewer (atlas.html) beside the report.")
    input_size: int | None = option(None, "Resize images to this side before the network (default: 224 for "
                                    "pretrained torchvision networks; random ones, such as random-vgg16, read "
                                    "images at their own size clamped to 32-224 px; 224 is the literature's "
                                    "setting).", min=16)


@dataclass
class FittedAtlas:
    """The report's atlas reference: the options, the network's name and the real images (the map is
    fitted jointly with each generated set); or, for tracking, a frozen map of real activations."""

    options: AtlasOptions
    model: str
    real: ImageSource | None = None
    frozen: AtlasReference | None = None
    meter: Any = field(default=None, repr=False)


class AtlasView(View):
    key = KEY
    title = TITLE
    Options = AtlasOptions
    tracks = True
    families = (TEST_FAMILY,)

    def applies(self, real: ImageSource, fake: ImageSource | None, options: AtlasOptions) -> str | None:
        """The atlas needs enough images for a noise floor from real half-splits."""
        from genlens.atlas.analysis import MIN_IMAGES

        if min(len(real), len(fake) if fake is not None else MIN_IMAGES) < MIN_IMAGES:
            return f"the activation atlas needs at least {MIN_IMAGES} real and {MIN_IMAGES} generated images"
        return None

    def plan(self, passes: Any, real: ImageSource, fake: ImageSource, options: AtlasOptions, ctx: RunContext,
             fitted: bool) -> None:
        """The sampled activations of both sets (the atlas reads the real set again for every generated one)."""
        from genlens.atlas.analysis import plan_atlas

        if not options.attribution:
            plan_atlas(passes, real, fake, model_for(real, options), options.weights, options.layers,
                       options.positions, options.max_images, options.input_size, ctx.seed)

    def fit(self, real: ImageSource, options: AtlasOptions, ctx: RunContext) -> FittedAtlas:
        return FittedAtlas(options, model_for(real, options), real)

    def compare(self, reference: FittedAtlas, fake: ImageSource, ctx: RunContext) -> Any:
        from genlens.atlas.analysis import analyze_atlas
        from genlens.atlas.layout import LayoutConfig

        o = reference.options
        layout = LayoutConfig(method=o.method or ("pca" if o.quick else "umap"), mode=o.layout, seed=ctx.seed)
        return analyze_atlas(
            reference.real, fake, model=reference.model, layers=list(o.layers) if o.layers else None,
            grids=tuple(o.grids), positions=o.positions, max_images=o.max_images, layout=layout, alpha=o.pseudo_count,
            splits=o.splits, attribution=o.attribution, icons=o.icons, icon_steps=o.icon_steps, weights=o.weights,
            input_size=o.input_size, quick=o.quick, seed=ctx.seed, device=ctx.device, cache_dir=ctx.cache_dir,
            passes=ctx.passes, permutations=o.permutations,
        ).judged(ctx.alpha)

    def section(self, reference: FittedAtlas, fake: ImageSource, ctx: RunContext) -> Section:
        from genlens.atlas.section import build_section

        result = self.compare(reference, fake, ctx)
        section = build_section(result, reference.real.name_of)
        if reference.options.viewer and ctx.out_dir is not None:
            from genlens.atlas.viewer import write_viewer

            ctx.out_dir.mkdir(parents=True, exist_ok=True)
            write_viewer(result, reference.real, fake, ctx.out_dir / "atlas.html")
            section = replace(section, notes=section.notes + ("Interactive viewer: atlas.html next to this report.",))
        return section

    # -- tracking ---------------------------------------------------------------------------------------
    def fit_tracking(self, real: ImageSource, options: AtlasOptions, ctx: RunContext) -> FittedAtlas:
        model = model_for(real, options)
        n = min(len(real), options.max_images or len(real))
        frozen = build_atlas_reference(real, n, model, _model_options(options), options.layers, options.grids[0],
                                       options.positions, seed=ctx.seed, device=ctx.device)
        return FittedAtlas(options, model, None, frozen)

    def plan_measure(self, passes: Any, reference: FittedAtlas, images: torch.Tensor, ctx: RunContext) -> None:
        self._meter(reference, images, ctx).plan(passes, images)

    def measure(self, reference: FittedAtlas, images: torch.Tensor, ctx: RunContext, n_boot: int = 20) -> Measurements:
        return self._meter(reference, images, ctx)(images, n_boot=n_boot, passes=ctx.passes)

    @staticmethod
    def _meter(reference: FittedAtlas, images: torch.Tensor, ctx: RunContext) -> AtlasMeter:
        if reference.meter is None:
            reference.meter = AtlasMeter(reference.frozen, tuple(images.shape[-2:]), device=ctx.device)
        return reference.meter

    def direction(self, metric: str) -> bool | None:
        return False if js_layer(metric) is not None else None

    def save_reference(self, reference: FittedAtlas, folder: Path) -> None:
        with atomic_path(folder / "atlas.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **reference.frozen.to_arrays())
        header = {"options": asdict(reference.options), "model": reference.model, "frozen": reference.frozen.header()}
        atomic_write_text(folder / "atlas.json", json.dumps(header))

    def load_reference(self, folder: Path, ctx: RunContext) -> FittedAtlas:
        header = json.loads((folder / "atlas.json").read_text())
        opts = header["options"]
        if "alpha" in opts:  # references saved before the pseudo-count option was renamed
            opts["pseudo_count"] = opts.pop("alpha")
        opts.setdefault("permutations", AtlasOptions.permutations)
        options = AtlasOptions(**{**opts, "grids": tuple(opts["grids"]),
                                  "layers": tuple(opts["layers"]) if opts["layers"] is not None else None})
        with np.load(folder / "atlas.npz", allow_pickle=False) as z:
            frozen = AtlasReference.from_parts(header["frozen"], {name: z[name] for name in z.files})
        return FittedAtlas(options, header["model"], None, frozen)

    def describe_reference(self, reference: FittedAtlas) -> dict[str, Any]:
        return {**reference.frozen.header(), "n_images": reference.frozen.n_images}

    def causes(self, reference: FittedAtlas, evidence: StepEvidence, metric: str) -> list[dict[str, Any]]:
        cells = cell_series(evidence.arrays, evidence.run, reference.frozen)
        return cell_causes(cells, evidence, layer_of(metric))

    def track_sections(self, result: Any) -> list[Section]:
        reference = result.references.get(KEY)
        frozen = reference.frozen if reference is not None else None
        cells = {run: cell_series(result.arrays, run, frozen) for run in result.runs} if frozen is not None else {}
        return track_section(result, frozen, cells)


def model_for(real: ImageSource, options: AtlasOptions) -> str:
    """The network: the one named in the options, else the images' own default, else a random VGG16."""
    return options.model or real.defaults().get("atlas_model") or GENERIC_MODEL


def _model_options(options: AtlasOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if options.quick:
        out["quick"] = True
    if options.weights != "default":
        out["weights"] = options.weights
    if options.input_size is not None:
        out["input_size"] = options.input_size
    return out
