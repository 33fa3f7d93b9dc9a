"""The planted-defect world: procedural outdoor scenes with per-pixel ground truth.

Every scene is a sky (vertical colour gradient) above a textured ground, split by a horizon whose
height and waviness vary a little, with one *dominant* object -- clearly the largest, so an image
classifier can name it -- and a few small extra objects of other classes. Objects keep to their
typical places: sun and cloud in the sky, tree and house standing on the horizon, car on the ground.

Randomness is counter-based (see :mod:`genlens.zoo._random`): image ``i`` of seed ``s`` is a pure
function of ``(s, i)``, so samples are deterministic, prefixes of each other, and drawn for the whole
batch at once with numpy. Defective generators (:mod:`genlens.zoo.defects`) reuse :meth:`World.render`
with a narrowed set of allowed classes or a blurred texture, so the undamaged scene for any
defective image is one call away.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from genlens.errors import ConfigError
from genlens.zoo import _random
from genlens.zoo._objects import OBJECT_PAINTERS, ObjectLayout
from genlens.zoo._shapes import Grid, below_curve

#: Every ground-truth class id, in label order: the two background classes, then the objects.
CLASSES: tuple[str, ...] = ("sky", "ground", "sun", "cloud", "tree", "house", "car")
BACKGROUND_CLASSES: tuple[str, ...] = ("sky", "ground")
OBJECT_CLASSES: tuple[str, ...] = ("sun", "cloud", "tree", "house", "car")
_OBJECT_IDS = np.array([CLASSES.index(c) for c in OBJECT_CLASSES], dtype=np.int64)

#: Bump when a change to the world alters the images a given seed produces (part of fingerprints).
WORLD_VERSION = 1

_MIN_SIZE = 16


@dataclass(frozen=True)
class Scenes:
    """A batch of rendered scenes and their ground truth.

    ``images``: uint8 ``(n, 3, H, W)`` RGB. ``labels``: int64 ``(n, H, W)`` index into
    :data:`CLASSES`. ``main_class``: int64 ``(n,)`` the object class covering the most pixels.
    ``present``: bool ``(n, len(CLASSES))`` whether a class has at least one pixel.
    """

    images: np.ndarray
    labels: np.ndarray
    main_class: np.ndarray
    present: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASSES


class _Draws:
    """Named per-image uniform draws; the name picks the stream, so adding one changes no other."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = keys

    def u(self, name: str, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        return _random.between(self.keys, zlib.crc32(name.encode()), low, high).astype(np.float32)

    def color(self, name: str, base: tuple[float, float, float], jitter: float) -> np.ndarray:
        """``(n, 3)`` colour: ``base`` plus an independent uniform jitter per channel."""
        return np.stack([base[c] + self.u(f"{name}.{c}", -jitter, jitter) for c in range(3)], axis=1)

    def mix(self, name: str, a: tuple[float, float, float], b: tuple[float, float, float], hi: float) -> np.ndarray:
        """``(n, 3)`` colour between ``a`` and ``b`` (weight of ``b`` uniform in ``[0, hi)``)."""
        w = self.u(name, 0.0, hi)[:, None]
        return (1.0 - w) * np.asarray(a, np.float32) + w * np.asarray(b, np.float32)


class World:
    """Procedural scenes of ``size`` x ``size`` pixels (32 and 64 are the tested sizes).

    ``extra_rate`` is the probability that each non-dominant object class adds one small extra
    object; ``texture`` scales the fine ground/sky texture (0 removes it).
    """

    def __init__(self, size: int = 32, extra_rate: float = 0.25, texture: float = 1.0) -> None:
        if not isinstance(size, (int, np.integer)) or size < _MIN_SIZE:
            raise ConfigError(f"World size must be an integer >= {_MIN_SIZE} (e.g. 32 or 64), got {size!r}.")
        if not 0.0 <= extra_rate <= 1.0:
            raise ConfigError(f"World extra_rate must be in [0, 1], got {extra_rate!r}.")
        if texture < 0:
            raise ConfigError(f"World texture must be >= 0, got {texture!r}.")
        self.size = int(size)
        self.extra_rate = float(extra_rate)
        self.texture = float(texture)
        self._grid = Grid(self.size)

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.size, self.size)

    def to_dict(self) -> dict[str, object]:
        """The parameters that, with a seed, determine every image (recorded in fingerprints)."""
        return {
            "size": self.size,
            "extra_rate": self.extra_rate,
            "texture": self.texture,
            "world_version": WORLD_VERSION,
        }

    def __repr__(self) -> str:
        return f"World(size={self.size}, extra_rate={self.extra_rate}, texture={self.texture})"

    def sample(self, n: int, seed: int = 0) -> Scenes:
        """``n`` scenes; image ``i`` depends only on ``(seed, i)``."""
        return self.sample_at(np.arange(_check_count(n)), seed)

    def sample_at(self, indices: np.ndarray, seed: int = 0) -> Scenes:
        """The scenes with these indices in the stream of ``seed`` (``read(start, stop)`` uses this)."""
        return self.render(_random.image_keys(seed, _check_indices(indices)))

    def render(self, keys: np.ndarray, allowed: np.ndarray | None = None, texture_blur: float = 0.0) -> Scenes:
        """Render one scene per uint64 key.

        ``allowed`` (bool ``(n, len(OBJECT_CLASSES))``) restricts which object classes may appear in
        each scene; a disallowed dominant class is redrawn among the allowed ones and disallowed
        extras are left out, so scenes without the class are untouched. ``texture_blur`` (pixels)
        replaces the fine background texture by its Gaussian blur.
        """
        keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        n, size = len(keys), self.size
        draws = _Draws(keys)
        if allowed is None:
            allowed = np.ones((n, len(OBJECT_CLASSES)), dtype=bool)
        if allowed.shape != (n, len(OBJECT_CLASSES)):
            raise ConfigError(f"allowed must be a bool array of shape ({n}, {len(OBJECT_CLASSES)}), got {allowed.shape}.")
        if not allowed.any(axis=1).all():
            raise ConfigError("Every scene needs at least one allowed object class.")

        main = _choose_main(draws, allowed)
        extra = (
            (np.stack([draws.u(f"extra.{c}") for c in OBJECT_CLASSES], axis=1) < self.extra_rate)
            & allowed
            & (np.arange(len(OBJECT_CLASSES))[None, :] != main[:, None])
        )

        images = np.empty((n, 3, size, size), dtype=np.float32)
        labels = np.empty((n, size, size), dtype=np.int64)
        horizon = self._paint_background(draws, images, labels, texture_blur)
        layout = ObjectLayout(grid=self._grid, draws=draws, horizon=horizon)
        # extras first (back to front), then the dominant object on top, so it is never hidden
        for cls, painter in OBJECT_PAINTERS.items():
            k = OBJECT_CLASSES.index(cls)
            painter(layout, images, labels, CLASSES.index(cls), extra[:, k], is_main=False)
        for cls, painter in OBJECT_PAINTERS.items():
            k = OBJECT_CLASSES.index(cls)
            painter(layout, images, labels, CLASSES.index(cls), main == k, is_main=True)

        pixels = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        counts = _class_counts(labels)
        main_class = _OBJECT_IDS[np.argmax(counts[:, _OBJECT_IDS], axis=1)]
        return Scenes(images=pixels, labels=labels, main_class=main_class, present=counts > 0)

    def _paint_background(
        self, draws: _Draws, images: np.ndarray, labels: np.ndarray, texture_blur: float
    ) -> np.ndarray:
        """Sky gradient over textured ground; returns the horizon height ``(n, 1, W)`` per column."""
        g = self._grid
        h0 = draws.u("horizon.height", 0.55, 0.68)[:, None, None]
        amp = draws.u("horizon.wave", 0.0, 0.03)[:, None, None]
        freq = draws.u("horizon.freq", 0.5, 1.5)[:, None, None]
        phase = draws.u("horizon.phase")[:, None, None]
        horizon = h0 + amp * np.sin(2.0 * np.pi * (freq * g.x + phase))  # (n, 1, W)

        top = draws.color("sky.top", (60.0, 115.0, 200.0), 18.0)[:, :, None, None]
        bottom = draws.color("sky.bottom", (175.0, 205.0, 235.0), 14.0)[:, :, None, None]
        t = np.clip(g.y / horizon, 0.0, 1.0)[:, None]  # (n, 1, H, W): 0 at the top, 1 at the horizon
        np.multiply(bottom - top, t, out=images)
        images += top

        grass = draws.mix("ground.dry", (70.0, 135.0, 55.0), (150.0, 140.0, 75.0), 0.6)
        grass = (grass + draws.u("ground.light", -15.0, 15.0)[:, None])[:, :, None, None]
        depth = np.clip((g.y - horizon) / (1.0 - horizon), 0.0, 1.0)[:, None]  # 0 at horizon, 1 at bottom
        is_ground = below_curve(g, horizon)
        np.copyto(images, grass * (0.8 + 0.3 * depth), where=is_ground[:, None])

        tex = _random.pixel_noise(draws.keys, zlib.crc32(b"texture"), (self.size, self.size))
        if texture_blur > 0:
            tex = gaussian_filter(tex, sigma=(0.0, texture_blur, texture_blur), mode="reflect")
        # fine texture: strong on the ground, faint in the sky
        amplitude = np.where(is_ground, np.float32(14.0 * self.texture), np.float32(3.0 * self.texture))
        images += (amplitude * tex)[:, None]
        labels[:] = np.where(is_ground, CLASSES.index("ground"), CLASSES.index("sky"))
        return horizon


def _choose_main(draws: _Draws, allowed: np.ndarray) -> np.ndarray:
    """Dominant object class index per scene: uniform, redrawn among the allowed when disallowed."""
    n_obj = len(OBJECT_CLASSES)
    first = np.minimum((draws.u("main") * n_obj).astype(np.int64), n_obj - 1)
    ok = allowed[np.arange(len(first)), first]
    weights = allowed.astype(np.float64)
    cdf = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
    redraw = (draws.u("main.redraw")[:, None] >= cdf).sum(axis=1)
    return np.where(ok, first, np.minimum(redraw, n_obj - 1))


def _class_counts(labels: np.ndarray) -> np.ndarray:
    """Pixels per class per image, ``(n, len(CLASSES))``, with one bincount."""
    n = labels.shape[0]
    flat = labels.reshape(n, labels.shape[1] * labels.shape[2]) + (np.arange(n, dtype=np.int64) * len(CLASSES))[:, None]
    return np.bincount(flat.ravel(), minlength=n * len(CLASSES)).reshape(n, len(CLASSES))


def _check_indices(indices: np.ndarray) -> np.ndarray:
    """Image indices must be non-negative integers (they name images in a seed's stream)."""
    idx = np.asarray(indices).reshape(-1)
    if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0):
        raise ConfigError(f"Image indices must be non-negative integers, got {idx.dtype} values from {idx.min()}.")
    return idx.astype(np.int64)


def _check_count(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"Number of images must be a non-negative integer, got {n!r}.")
    return int(n)


def class_id(name: str) -> int:
    """Index of a class name in :data:`CLASSES`, with a clear error listing the valid names."""
    if name not in CLASSES:
        raise ConfigError(f"Unknown world class {name!r}; valid classes: {', '.join(CLASSES)}.")
    return CLASSES.index(name)
