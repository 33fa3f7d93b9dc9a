"""The world and its generators as image sources, and the ``zoo:`` spec strings of the CLI.

``zoo:real?n=500&seed=0`` is the real set; ``zoo:<generator>?n=..&seed=..&size=..&<param>=..`` a
defective one, e.g. ``zoo:blur_region?box=8,8,20,20&n=500`` or ``zoo:drop_class?name=car``. The
real-photo world (:mod:`genlens.zoo.photos`) has its own: ``zoo:photos?n=600`` and
``zoo:photo_<defect>?..``, e.g. ``zoo:photo_jpeg_region?box=0,16,16,32``. A
:class:`ZooSource` renders exactly the images asked for on each ``read``, so nothing is held in
memory and the fingerprint is the recipe's hash, not the pixels'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import numpy as np
import torch

from genlens._hashing import hash_json
from genlens.errors import ConfigError, InputError
from genlens.io.base import ImageSource
from genlens.plugins import parse_spec
from genlens.zoo.defects import GENERATOR_NAMES, ZooGenerator, defect_params, make_generator
from genlens.zoo.world import Scenes, World

if TYPE_CHECKING:
    from genlens.zoo.photos import PhotoWorld

#: Part of every zoo fingerprint; bump when a generator's output for a given recipe changes.
ZOO_SOURCE_VERSION = 1
REAL = "real"
DEFAULT_N = 1000
DEFAULT_REAL_SEED = 0
DEFAULT_GENERATOR_SEED = 1


#: The networks trained on the world, by role, for images that come from it.
WORLD_DEFAULTS = {"features": "zoo-classifier", "segmenter": "zoo", "atlas_model": "zoo-classifier",
                  "regions_representation": "pixels"}


class ZooSource(ImageSource):
    """``n`` images of the world (``sampler`` a :class:`World`) or of a :class:`ZooGenerator`."""

    def __init__(self, sampler: World | ZooGenerator | PhotoWorld, n: int, seed: int) -> None:
        if n < 1:
            raise InputError(f"a zoo source needs n >= 1 images, got {n}.")
        self.sampler, self.n, self.seed = sampler, int(n), int(seed)
        self.name = REAL if isinstance(sampler, World) else sampler.name

    def __len__(self) -> int:
        return self.n

    @property
    def image_size(self) -> tuple[int, int]:
        return self.sampler.image_size

    def defaults(self) -> dict[str, str]:
        """World scenes are measured with the networks trained on the world (the zoo's own registrations)."""
        return dict(WORLD_DEFAULTS)

    @property
    def planted(self) -> dict[str, Any] | None:
        """What the generator planted; ``None`` for the real set."""
        return None if isinstance(self.sampler, World) else self.sampler.planted

    def scenes(self, start: int = 0, stop: int | None = None) -> Scenes:
        """Images ``start..stop`` with their ground truth (labels, main class, presence)."""
        stop = self.n if stop is None else min(int(stop), self.n)
        if not 0 <= start <= stop:
            raise InputError(f"zoo source {self.spec()}: invalid range {start}..{stop} of {self.n} images.")
        return self.sampler.sample_at(np.arange(start, stop), self.seed)

    def read(self, start: int, stop: int) -> torch.Tensor:
        return torch.from_numpy(self.scenes(start, stop).images)

    def recipe(self) -> dict[str, Any]:
        base = {"generator": REAL, "world": self.sampler.to_dict()} if isinstance(self.sampler, World) else self.sampler.recipe()
        return {**base, "n": self.n, "sample_seed": self.seed, "version": ZOO_SOURCE_VERSION}

    def fingerprint(self) -> str:
        return hash_json(self.recipe(), 32)

    def spec(self) -> str:
        """The ``zoo:`` string that reopens this source."""
        query: dict[str, Any] = {"n": self.n, "seed": self.seed, "size": self.sampler.size}
        if isinstance(self.sampler, ZooGenerator):
            for key, value in self.sampler.params.items():
                if value is not None:
                    query[key] = ",".join(str(v) for v in value) if isinstance(value, list) else value
        return f"zoo:{self.name}?{urlencode(query, safe=',')}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "spec": self.spec(), "generator": self.name, "seed": self.seed, "planted": self.planted}

    def __repr__(self) -> str:
        return f"ZooSource({self.spec()!r})"


def real_source(n: int, seed: int = DEFAULT_REAL_SEED, size: int = 32) -> ZooSource:
    """``n`` images of the real world distribution (the reference set of tests and the demo)."""
    return ZooSource(World(size=size), n, seed)


def _numbers(count: int, cast: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        parts = [p for p in text.replace(" ", "").split(",") if p]
        if len(parts) != count:
            raise ValueError(f"expected {count} comma-separated numbers")
        return tuple(cast(p) for p in parts)

    return parse


#: How each spec parameter's text becomes a value.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "n": int,
    "seed": int,
    "size": int,
    "box": _numbers(4, int),
    "shift": _numbers(3, float),
    "name": str,
    "factor": float,
    "n_modes": int,
    "jitter": float,
    "sigma": float,
    "std": float,
    "amount": float,
    "quality": int,
}
_COMMON = ("n", "seed", "size")


def open_zoo_spec(spec: str) -> ZooSource:
    """``zoo:<name>?key=value&...`` -> a :class:`ZooSource` (names: ``real``, ``photos`` and every generator)."""
    # imported here: genlens.zoo.photos builds on this module's ZooSource
    from genlens.zoo.photos import (
        DEFAULT_PHOTO_SEED,
        PHOTO_GENERATOR_NAMES,
        PHOTOS,
        make_photo_generator,
        photo_defect_params,
        photo_source,
    )

    text = spec.strip()
    if not text.startswith("zoo:"):
        raise ConfigError(f"zoo spec {spec!r} must start with 'zoo:', e.g. zoo:real?n=500&seed=0.")
    name = text[4:].partition("?")[0]
    valid_names = (REAL, *GENERATOR_NAMES, PHOTOS, *PHOTO_GENERATOR_NAMES)
    if name not in valid_names:
        raise ConfigError(f"zoo spec {spec!r}: unknown name {name!r}; valid names: {', '.join(valid_names)}.")
    if name in (REAL, PHOTOS):
        params: tuple[str, ...] = ()
    else:
        params = photo_defect_params(name) if name in PHOTO_GENERATOR_NAMES else defect_params(name)
    _, values = parse_spec(text, {key: _PARSERS[key] for key in _COMMON + params})
    n = values.pop("n", DEFAULT_N)
    size = values.pop("size", 32)
    if name == REAL:
        return real_source(n, seed=values.pop("seed", DEFAULT_REAL_SEED), size=size)
    if name == PHOTOS:
        return photo_source(n, seed=values.pop("seed", DEFAULT_PHOTO_SEED), size=size)
    seed = values.pop("seed", DEFAULT_GENERATOR_SEED)
    if name in PHOTO_GENERATOR_NAMES:
        return make_photo_generator(name, size=size, seed=seed, **values).as_source(n, seed)
    return ZooSource(make_generator(name, size=size, seed=seed, **values), n, seed)
