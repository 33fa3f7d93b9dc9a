"""The synthetic planted-defect world and its small reference models.

:class:`World` renders procedural scenes with per-pixel ground truth; :func:`make_generator` derives
generators with one known defect each; :func:`real_source` and :func:`open_zoo_spec` wrap them as
:class:`genlens.io.base.ImageSource`. Trained reference networks live in :mod:`genlens.zoo.models`.
"""

from __future__ import annotations

from genlens.zoo.defects import GENERATOR_NAMES, ZooGenerator, make_generator
from genlens.zoo.sources import ZooSource, open_zoo_spec, real_source
from genlens.zoo.world import BACKGROUND_CLASSES, CLASSES, OBJECT_CLASSES, WORLD_VERSION, Scenes, World

__all__ = [
    "BACKGROUND_CLASSES",
    "CLASSES",
    "GENERATOR_NAMES",
    "OBJECT_CLASSES",
    "WORLD_VERSION",
    "Scenes",
    "World",
    "ZooGenerator",
    "ZooSource",
    "make_generator",
    "open_zoo_spec",
    "real_source",
]
