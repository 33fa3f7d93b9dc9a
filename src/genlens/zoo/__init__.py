"""The synthetic planted-defect world and its small reference models.

:class:`World` renders procedural scenes with per-pixel ground truth; :func:`make_generator` derives
generators with one known defect each; :func:`real_source` and :func:`open_zoo_spec` wrap them as
:class:`genlens.io.base.ImageSource`. :mod:`genlens.zoo.photos` is the real-photo world: crops of
public-domain photographs (:func:`photo_source`) and :func:`make_photo_generator`'s planted defects.
Trained reference networks live in :mod:`genlens.zoo.models`.
"""

from __future__ import annotations

from genlens.zoo._photographs import PHOTO_NAMES, PHOTOGRAPHS
from genlens.zoo.defects import GENERATOR_NAMES, ZooGenerator, make_generator
from genlens.zoo.photos import (
    PHOTO_GENERATOR_NAMES,
    PhotoCrops,
    PhotoGenerator,
    PhotoSource,
    PhotoWorld,
    make_photo_generator,
    photo_source,
)
from genlens.zoo.sources import ZooSource, open_zoo_spec, real_source
from genlens.zoo.world import BACKGROUND_CLASSES, CLASSES, OBJECT_CLASSES, WORLD_VERSION, Scenes, World

__all__ = [
    "BACKGROUND_CLASSES",
    "CLASSES",
    "GENERATOR_NAMES",
    "OBJECT_CLASSES",
    "PHOTOGRAPHS",
    "PHOTO_GENERATOR_NAMES",
    "PHOTO_NAMES",
    "WORLD_VERSION",
    "PhotoCrops",
    "PhotoGenerator",
    "PhotoSource",
    "PhotoWorld",
    "Scenes",
    "World",
    "ZooGenerator",
    "ZooSource",
    "make_generator",
    "make_photo_generator",
    "open_zoo_spec",
    "photo_source",
    "real_source",
]
