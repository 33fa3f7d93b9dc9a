"""Activation atlas: where in a network's activation space real and generated images part ways.

Sample spatial activations of named layers (:mod:`~genlens.atlas.activations`), lay them out in 2-D
(:mod:`~genlens.atlas.layout`), bin them on grids and compare the densities with a noise floor
(:mod:`~genlens.atlas.stats`), render icons (:mod:`~genlens.atlas.icons`) and explore the result in
one self-contained page (:mod:`~genlens.atlas.viewer`). :func:`analyze_atlas` runs it all.
"""

from __future__ import annotations

from genlens.atlas.activations import LayerActivations, collect_activations
from genlens.atlas.analysis import analyze_atlas
from genlens.atlas.layout import LayoutConfig, fit_layout
from genlens.atlas.model import AtlasModel, resolve_model
from genlens.atlas.result import AtlasResult

__all__ = [
    "AtlasModel", "AtlasResult", "LayerActivations", "LayoutConfig", "analyze_atlas", "collect_activations",
    "fit_layout", "resolve_model",
]
