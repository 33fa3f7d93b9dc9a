"""The real-photo world: random crops of public-domain photographs, and generators with planted defects.

The procedural world (:mod:`genlens.zoo.world`) proves a diagnostic on pictures genlens drew itself;
this world checks it on real photographs, whose textures, edges and colours no procedure made. Each
image is a random square window (20-45 % of a photograph's shorter side) resized down to ``size``
with the package's one resize policy (PIL bicubic, antialiased), so a crop shows structure -- an eye,
a cup's rim, a rocket's plume -- and not only texture. Image ``i`` of seed ``s`` is a pure function of
``(s, i)`` (counter-based, :mod:`genlens.zoo._random`) and records which photograph and which window
it came from.

Generators reuse :class:`~genlens.zoo.defects.ZooGenerator` and its defect protocol: region defects
(blur, desaturation, JPEG artefacts) damage a finished crop inside one box only, so every pixel
outside the box equals the clean crop's; ``photo_drop_source`` redraws the photograph of crops that
would have shown the dropped one, leaving every other crop untouched. Photo sources name no networks
(``defaults() == {}``): the world's classifier and segmenter know nothing of photographs.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from genlens.errors import ConfigError
from genlens.zoo import _random
from genlens.zoo._photographs import PHOTO_NAMES, PHOTOGRAPHS, load_photographs, photo_index
from genlens.zoo.defects import BlurRegion, Defect, ZooGenerator, _check_number, _RegionDefect
from genlens.zoo.sources import DEFAULT_GENERATOR_SEED, ZooSource
from genlens.zoo.world import _check_count, _check_indices, _Draws

#: The real set's spec name: ``zoo:photos?n=600&size=32&seed=0``.
PHOTOS = "photos"
DEFAULT_PHOTO_SEED = 0
#: Bump when a change alters the crops a given seed produces (part of fingerprints).
PHOTO_WORLD_VERSION = 1
#: Window side as a fraction of the photograph's shorter side (uniform in this range).
WINDOW = (0.2, 0.45)
_MIN_SIZE = 16


@dataclass(frozen=True)
class PhotoCrops:
    """A batch of crops and their provenance.

    ``images``: uint8 ``(n, 3, S, S)`` RGB. ``photo``: int64 ``(n,)`` index into :data:`PHOTO_NAMES`.
    ``window``: int64 ``(n, 4)`` the ``[top, left, bottom, right]`` (end-exclusive) window of the
    photograph each crop was resized from.
    """

    images: np.ndarray
    photo: np.ndarray
    window: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def photo_names(self) -> tuple[str, ...]:
        """Which photograph each crop shows, by name."""
        return tuple(PHOTO_NAMES[i] for i in self.photo)


class PhotoWorld:
    """Random ``size`` x ``size`` crops of the photographs in :data:`~genlens.zoo._photographs.PHOTOGRAPHS`.

    Loads the photographs from the installed scikit-image on construction, so a missing package is
    reported at once with the command that installs it.
    """

    name = PHOTOS
    planted = None

    def __init__(self, size: int = 32) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < _MIN_SIZE:
            raise ConfigError(f"PhotoWorld size must be an integer >= {_MIN_SIZE} (e.g. 32 or 64), got {size!r}.")
        self.size = int(size)
        self._photos, self._digest = load_photographs()

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.size, self.size)

    def to_dict(self) -> dict[str, Any]:
        """Everything that, with a seed, determines every crop -- including the photographs' bytes."""
        return {
            "size": self.size,
            "window": list(WINDOW),
            "photographs": list(PHOTO_NAMES),
            "photographs_sha256": self._digest,
            "photo_world_version": PHOTO_WORLD_VERSION,
        }

    def recipe(self) -> dict[str, Any]:
        """The fingerprint recipe of the real set (a :class:`ZooSource` asks its sampler for it)."""
        return {"generator": PHOTOS, "world": self.to_dict()}

    def __repr__(self) -> str:
        return f"PhotoWorld(size={self.size})"

    def sample(self, n: int, seed: int = DEFAULT_PHOTO_SEED) -> PhotoCrops:
        """``n`` crops; crop ``i`` depends only on ``(seed, i)``."""
        return self.sample_at(np.arange(_check_count(n)), seed)

    def sample_at(self, indices: np.ndarray, seed: int = DEFAULT_PHOTO_SEED) -> PhotoCrops:
        """The crops with these indices in the stream of ``seed`` (``read(start, stop)`` uses this)."""
        return self.render(_random.image_keys(int(seed), _check_indices(indices)))

    def render(self, keys: np.ndarray, allowed: np.ndarray | None = None) -> PhotoCrops:
        """One crop per uint64 key.

        ``allowed`` (bool ``(n, len(PHOTO_NAMES))``) restricts which photographs each crop may come from:
        a disallowed first choice is redrawn among the allowed, so crops that never chose it are
        untouched.
        """
        keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        draws = _Draws(keys)
        photo = _choose_photo(draws, allowed)
        shorter = np.array([min(p.size) for p in self._photos])[photo]
        side = np.maximum(1, (draws.u("photo.window", *WINDOW) * shorter).astype(np.int64))
        heights = np.array([p.height for p in self._photos])[photo]
        widths = np.array([p.width for p in self._photos])[photo]
        top = np.minimum((draws.u("photo.top") * (heights - side + 1)).astype(np.int64), heights - side)
        left = np.minimum((draws.u("photo.left") * (widths - side + 1)).astype(np.int64), widths - side)
        window = np.stack([top, left, top + side, left + side], axis=1)
        images = np.empty((len(keys), 3, self.size, self.size), dtype=np.uint8)
        for i, (p, (y0, x0, y1, x1)) in enumerate(zip(photo, window)):
            # the resize policy of genlens.io.preprocess (PIL bicubic, antialiased) on the window's pixels only
            crop = self._photos[p].crop((x0, y0, x1, y1)).resize((self.size, self.size), Image.Resampling.BICUBIC)
            images[i] = np.asarray(crop).transpose(2, 0, 1)
        return PhotoCrops(images=images, photo=photo, window=window)


def _choose_photo(draws: _Draws, allowed: np.ndarray | None) -> np.ndarray:
    """Photograph index per crop: uniform, redrawn among the allowed when the first choice is not."""
    n_photos = len(PHOTOGRAPHS)
    first = np.minimum((draws.u("photo") * n_photos).astype(np.int64), n_photos - 1)
    if allowed is None:
        return first
    if allowed.shape != (len(first), n_photos) or not allowed.any(axis=1).all():
        raise ConfigError(f"allowed must be a bool array ({len(first)}, {n_photos}) with a photograph per row.")
    weights = allowed.astype(np.float64)
    cdf = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
    redraw = np.minimum((draws.u("photo.redraw")[:, None] >= cdf).sum(axis=1), n_photos - 1)
    return np.where(allowed[np.arange(len(first)), first], first, redraw)


def _quadrant(size: int) -> tuple[int, int, int, int]:
    """The top-left quadrant, ``(0, 0, 16, 16)`` at 32 px: a default box on the 8-px JPEG grid."""
    return (0, 0, size // 2, size // 2)


@dataclass(frozen=True)
class _PhotoRegion(_RegionDefect):
    """A region defect on photographs: the box defaults to the top-left quadrant."""

    def region(self, size: int) -> tuple[int, int, int, int]:
        return self.box if self.box is not None else _quadrant(size)


@dataclass(frozen=True)
class PhotoClean(Defect):
    """No defect: the photo world itself, another seed."""

    kind: ClassVar[str] = "photo_clean"


@dataclass(frozen=True)
class PhotoBlurRegion(_PhotoRegion, BlurRegion):
    """Gaussian blur (``sigma`` px, default 1.5 at 32 px) inside the box only."""

    kind: ClassVar[str] = "photo_blur_region"


@dataclass(frozen=True)
class PhotoDesaturateRegion(_PhotoRegion):
    """Colour removed inside the box: ``amount`` 1 is grey (ITU-R 601 luma), 0.5 half-way."""

    kind: ClassVar[str] = "photo_desaturate_region"
    amount: float = 1.0

    def validate(self, size: int) -> None:
        super().validate(size)
        _check_number(self.kind, "amount", self.amount, 0.0, 1.0, low_open=True)

    def damage(self, images: np.ndarray, keys: np.ndarray) -> np.ndarray:
        y0, x0, y1, x1 = self.region(images.shape[-1])
        rgb = images[:, :, y0:y1, x0:x1].astype(np.float32)
        luma = np.tensordot(np.array([0.299, 0.587, 0.114], np.float32), rgb, axes=([0], [1]))[:, None]
        out = images.copy()
        grey = rgb + np.float32(self.amount) * (luma - rgb)
        out[:, :, y0:y1, x0:x1] = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        return out


@dataclass(frozen=True)
class PhotoJpegRegion(_PhotoRegion):
    """JPEG artefacts inside the box: the crop is encoded at ``quality`` (1-95) and the box pasted back."""

    kind: ClassVar[str] = "photo_jpeg_region"
    quality: int = 10

    def validate(self, size: int) -> None:
        super().validate(size)
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not 1 <= self.quality <= 95:
            raise ConfigError(f"{self.kind}: quality must be an integer in [1, 95], got {self.quality!r}.")

    def damage(self, images: np.ndarray, keys: np.ndarray) -> np.ndarray:
        y0, x0, y1, x1 = self.region(images.shape[-1])
        out = images.copy()
        for i, image in enumerate(images):
            # the whole crop is encoded, so the box sits in its real 8x8 blocks and chroma neighbourhood
            buffer = io.BytesIO()
            Image.fromarray(image.transpose(1, 2, 0)).save(buffer, format="JPEG", quality=self.quality)
            decoded = np.asarray(Image.open(buffer).convert("RGB")).transpose(2, 0, 1)
            out[i, :, y0:y1, x0:x1] = decoded[:, y0:y1, x0:x1]
        return out


@dataclass(frozen=True)
class PhotoDropSource(Defect):
    """The photograph ``name`` never appears; crops that would have shown it show another."""

    kind: ClassVar[str] = "photo_drop_source"
    name: str | None = None

    def planted(self, size: int) -> dict[str, Any]:
        return {"kind": self.kind, "photograph": self.name}

    def validate(self, size: int) -> None:
        photo_index(self.name, self.kind)

    def allowed(self, keys: np.ndarray) -> np.ndarray:
        allowed = np.ones((len(keys), len(PHOTOGRAPHS)), dtype=bool)
        allowed[:, photo_index(self.name, self.kind)] = False
        return allowed


#: Every photo generator name and the defect it plants.
PHOTO_DEFECTS: dict[str, type[Defect]] = {
    cls.kind: cls for cls in (PhotoClean, PhotoBlurRegion, PhotoDesaturateRegion, PhotoJpegRegion, PhotoDropSource)
}
PHOTO_GENERATOR_NAMES: tuple[str, ...] = tuple(PHOTO_DEFECTS)

#: (generator, parameters) for the demo's "real photographs" part, at 32 px: one box per quadrant,
#: on the 8-px JPEG grid, so each defect sits somewhere else.
PHOTO_GENERATORS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("photo_clean", {}),
    ("photo_blur_region", {"box": (0, 0, 16, 16)}),  # top left
    ("photo_desaturate_region", {"box": (16, 16, 32, 32)}),  # bottom right
    ("photo_jpeg_region", {"box": (0, 16, 16, 32)}),  # top right
    ("photo_drop_source", {"name": "coffee"}),
)


def photo_defect_params(kind: str) -> tuple[str, ...]:
    """The keyword parameters photo generator ``kind`` accepts."""
    return tuple(f.name for f in dataclasses.fields(_photo_defect_class(kind)))


def _photo_defect_class(kind: str) -> type[Defect]:
    if kind not in PHOTO_DEFECTS:
        valid = ", ".join(PHOTO_GENERATOR_NAMES)
        raise ConfigError(f"Unknown photo generator {kind!r}; valid photo generators: {valid}.")
    return PHOTO_DEFECTS[kind]


class PhotoGenerator(ZooGenerator):
    """Photo crops with one planted defect; the world generator's API (``sample``, ``sample_undamaged``,
    ``planted``, ``as_source``, callable on latents) over a :class:`PhotoWorld`."""

    world: PhotoWorld  # type: ignore[assignment]

    def __repr__(self) -> str:
        return super().__repr__().replace("ZooGenerator(", "PhotoGenerator(", 1)

    def render(self, keys: np.ndarray) -> PhotoCrops:  # type: ignore[override]
        """One defective crop per uint64 key."""
        crops = self.world.render(keys, allowed=self.defect.allowed(keys))
        return dataclasses.replace(crops, images=self.defect.damage(crops.images, keys))

    def as_source(self, n: int, seed: int | None = None) -> PhotoSource:
        """These crops as an :class:`~genlens.io.base.ImageSource` of ``n`` images."""
        return PhotoSource(self, _check_count(n), self.seed if seed is None else int(seed))


class PhotoSource(ZooSource):
    """``n`` crops of the photo world or of a :class:`PhotoGenerator`; ``scenes()`` gives :class:`PhotoCrops`."""

    def defaults(self) -> dict[str, str]:
        """Photographs have no networks of their own: generic ones, and no world class names."""
        return {}

    def name_of(self, index: int) -> str:
        """``<photograph>#<index>``: which photograph a crop shows, so examples say what they are."""
        return f"{self.scenes(index, index + 1).photo_names[0]}#{index}"

    def __repr__(self) -> str:
        return f"PhotoSource({self.spec()!r})"


def make_photo_generator(
    kind: str, /, size: int = 32, seed: int = DEFAULT_GENERATOR_SEED, **params: Any
) -> PhotoGenerator:
    """A photo generator with the defect ``kind`` (see :data:`PHOTO_GENERATOR_NAMES`) and its parameters.

    ``make_photo_generator("photo_jpeg_region", box=(0, 16, 16, 32))``,
    ``make_photo_generator("photo_drop_source", name="coffee")``. The default ``seed=1`` differs from
    :func:`photo_source`'s 0, so ``photo_clean`` is a fresh draw of the real crops.
    """
    cls = _photo_defect_class(kind)
    valid = photo_defect_params(kind)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        accepted = ", ".join(valid) if valid else "none"
        raise ConfigError(
            f"Photo generator {kind!r} got unknown parameter(s) {', '.join(unknown)}; it accepts: {accepted}."
        )
    return PhotoGenerator(cls(**params), PhotoWorld(size=size), seed=seed)  # type: ignore[arg-type]


def photo_source(n: int, seed: int = DEFAULT_PHOTO_SEED, size: int = 32) -> PhotoSource:
    """``n`` crops of the real photographs (the reference set of the demo's photo part)."""
    return PhotoSource(PhotoWorld(size=size), _check_count(n), seed)  # type: ignore[arg-type]
