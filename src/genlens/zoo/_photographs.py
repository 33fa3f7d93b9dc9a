"""Which real photographs the photo world crops, where they come from, and how they are loaded.

The photographs are scikit-image's own sample images, read from the installed package's files at
run time: genlens neither downloads nor redistributes them. Only photographs that scikit-image's
documentation (the docstrings of :mod:`skimage.data`) releases into the public domain or under CC0
are listed; the others in the package (``ihc.png``: "no known copyright restrictions",
``motorcycle_left.png``: no licence stated) and scikit-learn's two samples (``china.jpg``,
``flower.jpg``: CC BY 2.0, attribution required) are left out.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from genlens.errors import ConfigError, InputError

INSTALL_HINT = "pip install 'genlens[photos]'"


@dataclass(frozen=True)
class Photograph:
    """One photograph: its short name, the file in ``skimage/data``, and its provenance and licence."""

    name: str
    file: str
    subject: str
    source: str
    licence: str


#: Every photograph of the photo world, in index order (``PhotoCrops.photo`` indexes this tuple).
PHOTOGRAPHS: tuple[Photograph, ...] = (
    Photograph("astronaut", "astronaut.png", "astronaut Eileen Collins, 512x512",
               "NASA Great Images (https://flic.kr/p/r9qvLn)", "public domain"),
    Photograph("chelsea", "chelsea.png", "Chelsea the cat, 451x300",
               "Stefan van der Walt (photographer)", "CC0"),
    Photograph("coffee", "coffee.png", "a coffee cup on a wooden table, 600x400",
               "Rachel Michetti (photographer), courtesy of Pikolo Espresso Bar", "CC0"),
    Photograph("hubble_deep_field", "hubble_deep_field.jpg", "Hubble eXtreme Deep Field, 1000x872",
               "NASA / HubbleSite (release 2012-37)", "public domain (NASA)"),
    Photograph("retina", "retina.jpg", "fundus photograph of a human retina, 1411x1411",
               "Mikael Haggstrom, Wikimedia Commons (Fundus_photograph_of_normal_left_eye.jpg)", "CC0 1.0"),
    Photograph("rocket", "rocket.jpg", "launch of DSCOVR on a Falcon 9, 640x427",
               "SpaceX Photos on Flickr", "public domain (SpaceX)"),
)
PHOTO_NAMES: tuple[str, ...] = tuple(p.name for p in PHOTOGRAPHS)


def photo_index(name: str | None, what: str) -> int:
    """Index of a photograph name in :data:`PHOTO_NAMES`, with a clear error listing the valid ones."""
    if name not in PHOTO_NAMES:
        raise ConfigError(f"{what}: name must be a photograph, one of {', '.join(PHOTO_NAMES)}; got {name!r}.")
    return PHOTO_NAMES.index(name)


def data_dir() -> Path:
    """``skimage/data`` of the installed scikit-image, found without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the zoo's real photographs come from scikit-image, which is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@lru_cache(maxsize=1)
def load_photographs() -> tuple[tuple[Image.Image, ...], str]:
    """Every photograph as a loaded RGB PIL image, and the SHA-256 of their files (for fingerprints)."""
    folder = data_dir()
    digest = hashlib.sha256()
    images = []
    for photo in PHOTOGRAPHS:
        path = folder / photo.file
        if not path.is_file():
            raise InputError(
                f"photograph {photo.file} is missing from {folder}; this scikit-image ships other sample "
                f"data than genlens expects (tested with 0.26): {INSTALL_HINT}"
            )
        data = path.read_bytes()
        digest.update(hashlib.sha256(data).digest())
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return tuple(images), digest.hexdigest()


def photo_array(name: str) -> np.ndarray:
    """One whole photograph as uint8 ``(H, W, 3)`` (for figures and tests)."""
    return np.asarray(load_photographs()[0][photo_index(name, "photo_array")])
