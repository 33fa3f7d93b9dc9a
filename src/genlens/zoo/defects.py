"""Generators derived from the world, each with one known, recorded defect.

A :class:`ZooGenerator` renders world scenes from the same per-image keys as :class:`World` (so
``make_generator("clean", seed=s).sample(n)`` *is* ``World().sample(n, s)``) and plants its defect at
one of three points: which object classes a scene may contain (``drop_class``, ``rare_class``),
which scene recipe an image gets (``collapse``), or what happens to the finished pixels
(``blur_region``, ``color_shift_region``, ``noise_region``; ``smooth_texture`` blurs the background
texture while rendering). :meth:`ZooGenerator.sample_undamaged` renders the same images without the
defect, which is what lets tests check that a defect changes exactly what it claims.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from genlens._hashing import hash_json
from genlens.errors import ConfigError
from genlens.zoo import _random
from genlens.zoo.world import OBJECT_CLASSES, Scenes, World, _check_count, _check_indices

Box = tuple[int, int, int, int]

#: Keys of the collapsed generator's scene recipes live in their own family, apart from the world's.
_MODE_TAG = 0xC011A95E
_NOISE_TAG = 0x0015E


@dataclass(frozen=True)
class Defect:
    """No defect: the world process itself. Subclasses override the hooks they need."""

    kind: ClassVar[str] = "clean"

    def __post_init__(self) -> None:
        # numpy scalars and sequences -> Python numbers and tuples, so equal parameters hash equally
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, _plain(getattr(self, field.name)))

    def planted(self, size: int) -> dict[str, Any]:
        """What was planted, JSON-safe: ``kind`` plus this defect's parameters."""
        return {"kind": self.kind, **{k: _json_value(v) for k, v in dataclasses.asdict(self).items()}}

    def validate(self, size: int) -> None:
        """Raise :class:`ConfigError` for parameters that make no sense at this image size."""

    def scene_keys(self, keys: np.ndarray, generator_seed: int) -> np.ndarray:
        """Which scene recipe each image renders (``collapse`` maps many images onto few recipes)."""
        return keys

    def allowed(self, keys: np.ndarray) -> np.ndarray | None:
        """Bool ``(n, len(OBJECT_CLASSES))``: object classes each scene may contain (None: all)."""
        return None

    def texture_blur(self, size: int) -> float:
        """Gaussian sigma in pixels applied to the background texture while rendering."""
        return 0.0

    def damage(self, images: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Post-process finished uint8 images ``(n, 3, H, W)``; the labels stay the drawn truth."""
        return images


def _check_number(kind: str, name: str, value: Any, low: float, high: float = np.inf, low_open: bool = False) -> None:
    """A real number in ``[low, high]`` (``(low, high]`` when ``low_open``), else a ConfigError."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not real or not np.isfinite(value) or value > high or value < low or (low_open and value == low):
        bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ConfigError(f"{kind}: {name} must be a number in {bounds}, got {value!r}.")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_plain(v) for v in value)
    return value


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _scaled_sigma(sigma: float | None, size: int) -> float:
    """A blur width given at 32 px keeps its look at other sizes."""
    return float(sigma) if sigma is not None else 1.5 * size / 32.0


def _default_box(size: int) -> Box:
    """``(8, 8, 20, 20)`` at 32 px, scaled: a region straddling sky, horizon objects and ground."""
    return (size // 4, size // 4, size * 5 // 8, size * 5 // 8)


@dataclass(frozen=True)
class _RegionDefect(Defect):
    """Common box handling: the box is ``(y0, x0, y1, x1)`` in pixels, end-exclusive."""

    box: Box | None = None

    def region(self, size: int) -> Box:
        return self.box if self.box is not None else _default_box(size)

    def planted(self, size: int) -> dict[str, Any]:
        return {**super().planted(size), "box": list(self.region(size))}

    def validate(self, size: int) -> None:
        if self.box is not None:
            integral = isinstance(self.box, tuple) and all(type(v) is int for v in self.box)
            if not integral or len(self.box) != 4:
                raise ConfigError(f"{self.kind}: box must be four integers y0,x0,y1,x1 (pixels), got {self.box!r}.")
        y0, x0, y1, x1 = box = self.region(size)
        if not (0 <= y0 < y1 <= size and 0 <= x0 < x1 <= size):
            raise ConfigError(
                f"{self.kind}: box {box} must satisfy 0 <= y0 < y1 <= {size} and 0 <= x0 < x1 <= {size} "
                f"(pixels of a {size}x{size} image, end-exclusive)."
            )


@dataclass(frozen=True)
class BlurRegion(_RegionDefect):
    """Gaussian blur (``sigma`` px, default 1.5 at 32 px) inside the box only."""

    kind: ClassVar[str] = "blur_region"
    sigma: float | None = None

    def planted(self, size: int) -> dict[str, Any]:
        return {**super().planted(size), "sigma": _scaled_sigma(self.sigma, size)}

    def validate(self, size: int) -> None:
        super().validate(size)
        if self.sigma is not None:
            _check_number(self.kind, "sigma (pixels)", self.sigma, 0.0, low_open=True)

    def damage(self, images: np.ndarray, keys: np.ndarray) -> np.ndarray:
        size = images.shape[-1]
        y0, x0, y1, x1 = self.region(size)
        blurred = gaussian_filter(images.astype(np.float32), sigma=(0, 0, *(2 * [_scaled_sigma(self.sigma, size)])))
        out = images.copy()
        out[:, :, y0:y1, x0:x1] = np.clip(np.rint(blurred[:, :, y0:y1, x0:x1]), 0, 255).astype(np.uint8)
        return out


@dataclass(frozen=True)
class ColorShiftRegion(_RegionDefect):
    """Add an RGB offset (``shift``, 0-255 units, default a warm cast) inside the box only."""

    kind: ClassVar[str] = "color_shift_region"
    shift: tuple[float, float, float] = (45.0, -10.0, -45.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.shift, tuple) and all(type(v) in (int, float) for v in self.shift):
            object.__setattr__(self, "shift", tuple(float(v) for v in self.shift))

    def validate(self, size: int) -> None:
        super().validate(size)
        numeric = isinstance(self.shift, tuple) and all(isinstance(v, float) for v in self.shift)
        if not numeric or len(self.shift) != 3:
            raise ConfigError(f"color_shift_region: shift must be three numbers r,g,b, got {self.shift!r}.")

    def damage(self, images: np.ndarray, keys: np.ndarray) -> np.ndarray:
        y0, x0, y1, x1 = self.region(images.shape[-1])
        out = images.copy()
        shifted = out[:, :, y0:y1, x0:x1].astype(np.float32) + np.asarray(self.shift, np.float32)[:, None, None]
        out[:, :, y0:y1, x0:x1] = np.clip(np.rint(shifted), 0, 255).astype(np.uint8)
        return out


@dataclass(frozen=True)
class NoiseRegion(_RegionDefect):
    """Add Gaussian pixel noise (``std``, 0-255 units) inside the box only."""

    kind: ClassVar[str] = "noise_region"
    std: float = 30.0

    def validate(self, size: int) -> None:
        super().validate(size)
        _check_number(self.kind, "std (0-255 units)", self.std, 0.0)

    def damage(self, images: np.ndarray, keys: np.ndarray) -> np.ndarray:
        y0, x0, y1, x1 = self.region(images.shape[-1])
        noise = _random.pixel_noise(_random.derive_key(keys, _NOISE_TAG), 0, (3, y1 - y0, x1 - x0))
        out = images.copy()
        noisy = out[:, :, y0:y1, x0:x1].astype(np.float32) + np.float32(self.std) * noise
        out[:, :, y0:y1, x0:x1] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        return out


def _object_class(kind: str, name: str | None) -> int:
    if name not in OBJECT_CLASSES:
        raise ConfigError(f"{kind}: name must be an object class, one of {', '.join(OBJECT_CLASSES)}; got {name!r}.")
    return OBJECT_CLASSES.index(name)


@dataclass(frozen=True)
class DropClass(Defect):
    """The object class ``name`` never appears; scenes that would contain it get another."""

    kind: ClassVar[str] = "drop_class"
    name: str | None = None

    def planted(self, size: int) -> dict[str, Any]:
        return {"kind": self.kind, "class": self.name}

    def validate(self, size: int) -> None:
        _object_class(self.kind, self.name)

    def allowed(self, keys: np.ndarray) -> np.ndarray:
        allowed = np.ones((len(keys), len(OBJECT_CLASSES)), dtype=bool)
        allowed[:, _object_class(self.kind, self.name)] = False
        return allowed


@dataclass(frozen=True)
class RareClass(Defect):
    """The object class ``name`` appears ``factor`` (0 < factor <= 1) times as often as in the world."""

    kind: ClassVar[str] = "rare_class"
    name: str | None = None
    factor: float = 0.2

    def planted(self, size: int) -> dict[str, Any]:
        return {"kind": self.kind, "class": self.name, "factor": float(self.factor)}

    def validate(self, size: int) -> None:
        _object_class(self.kind, self.name)
        _check_number(self.kind, "factor (use drop_class for 0)", self.factor, 0.0, 1.0, low_open=True)

    def allowed(self, keys: np.ndarray) -> np.ndarray:
        # a scene may show the class with probability `factor`, independently of everything else,
        # so every scene's chance to contain it -- and hence its frequency -- scales by `factor`
        allowed = np.ones((len(keys), len(OBJECT_CLASSES)), dtype=bool)
        allowed[:, _object_class(self.kind, self.name)] = _random.uniform(keys, 0x0A4E) < float(self.factor)
        return allowed


@dataclass(frozen=True)
class Collapse(Defect):
    """Only ``n_modes`` distinct scenes (recipes fixed by the generator's seed); optional pixel ``jitter``."""

    kind: ClassVar[str] = "collapse"
    n_modes: int = 4
    jitter: float = 0.0

    def validate(self, size: int) -> None:
        if isinstance(self.n_modes, bool) or not isinstance(self.n_modes, (int, np.integer)) or self.n_modes < 1:
            raise ConfigError(f"collapse: n_modes must be an integer >= 1, got {self.n_modes!r}.")
        _check_number(self.kind, "jitter (pixel noise std, 0-255 units)", self.jitter, 0.0)

    def scene_keys(self, keys: np.ndarray, generator_seed: int) -> np.ndarray:
        mode = np.minimum((_random.uniform(keys, 0x40DE) * self.n_modes).astype(np.int64), self.n_modes - 1)
        return _random.derive_key(_random.image_keys(generator_seed, mode), _MODE_TAG)

    def damage(self, images: np.ndarray, keys: np.ndarray) -> np.ndarray:
        if self.jitter == 0:
            return images
        noise = _random.pixel_noise(_random.derive_key(keys, _NOISE_TAG), 1, images.shape[1:])
        return np.clip(np.rint(images + np.float32(self.jitter) * noise), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class SmoothTexture(Defect):
    """The fine sky/ground texture is replaced by its Gaussian blur (``sigma`` px, default 1.5 at 32)."""

    kind: ClassVar[str] = "smooth_texture"
    sigma: float | None = None

    def planted(self, size: int) -> dict[str, Any]:
        return {"kind": self.kind, "sigma": _scaled_sigma(self.sigma, size)}

    def validate(self, size: int) -> None:
        if self.sigma is not None:
            _check_number(self.kind, "sigma (pixels)", self.sigma, 0.0, low_open=True)

    def texture_blur(self, size: int) -> float:
        return _scaled_sigma(self.sigma, size)


#: Every generator name and the defect it plants.
DEFECTS: dict[str, type[Defect]] = {
    cls.kind: cls
    for cls in (Defect, BlurRegion, ColorShiftRegion, DropClass, RareClass, Collapse, SmoothTexture, NoiseRegion)
}
GENERATOR_NAMES: tuple[str, ...] = tuple(DEFECTS)


def defect_params(kind: str) -> tuple[str, ...]:
    """The keyword parameters generator ``kind`` accepts."""
    return tuple(f.name for f in dataclasses.fields(_defect_class(kind)))


def _defect_class(kind: str) -> type[Defect]:
    if kind not in DEFECTS:
        raise ConfigError(f"Unknown zoo generator {kind!r}; valid generators: {', '.join(GENERATOR_NAMES)}.")
    return DEFECTS[kind]


class ZooGenerator:
    """World scenes with one planted defect; sample with :meth:`sample`, or call it on latents.

    ``seed`` is the default sampling seed and fixes ``collapse``'s scene recipes. As a callable,
    ``gen(z)`` maps a latent batch ``(B, latent_dim)`` to uint8 images ``(B, 3, H, W)``, each image a
    function of its latent's bytes only, so it plugs into :class:`genlens.io.GeneratorSource`.
    """

    latent_dim: int = 16

    def __init__(self, defect: Defect, world: World, seed: int = 1) -> None:
        defect.validate(world.size)
        self.defect, self.world, self.seed = defect, world, int(seed)
        self.name = defect.kind
        # GeneratorSource names (and fingerprints) a callable by its __qualname__: make it unique
        self.__qualname__ = f"zoo:{self.name}:{self._recipe_hash()}"

    @property
    def size(self) -> int:
        return self.world.size

    @property
    def image_size(self) -> tuple[int, int]:
        return self.world.image_size

    @property
    def planted(self) -> dict[str, Any]:
        """What was planted: ``kind`` and, as applicable, ``box`` / ``class`` / ``factor`` / ``n_modes``."""
        return self.defect.planted(self.size)

    @property
    def params(self) -> dict[str, Any]:
        return {k: _json_value(v) for k, v in dataclasses.asdict(self.defect).items()}

    def recipe(self) -> dict[str, Any]:
        """Everything that determines the images, for fingerprints."""
        return {"generator": self.name, "params": self.params, "seed": self.seed, "world": self.world.to_dict()}

    def _recipe_hash(self) -> str:
        return hash_json(self.recipe())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"ZooGenerator({self.name}{', ' if params else ''}{params}, size={self.size}, seed={self.seed})"

    def sample(self, n: int, seed: int | None = None) -> Scenes:
        """``n`` images; image ``i`` depends only on ``(seed, i)`` (``seed`` defaults to the generator's)."""
        return self.sample_at(np.arange(_check_count(n)), seed)

    def sample_at(self, indices: np.ndarray, seed: int | None = None) -> Scenes:
        """The images with these indices in the stream of ``seed`` (``read(start, stop)`` uses this)."""
        keys = _random.image_keys(self.seed if seed is None else int(seed), _check_indices(indices))
        return self.render(keys)

    def sample_undamaged(self, n: int, seed: int | None = None) -> Scenes:
        """The same ``n`` images rendered without the defect (the comparison the tests make)."""
        keys = _random.image_keys(self.seed if seed is None else int(seed), np.arange(_check_count(n)))
        return self.world.render(self.defect.scene_keys(keys, self.seed))

    def render(self, keys: np.ndarray) -> Scenes:
        """One defective image per uint64 key."""
        scene_keys = self.defect.scene_keys(keys, self.seed)
        scenes = self.world.render(
            scene_keys, allowed=self.defect.allowed(scene_keys), texture_blur=self.defect.texture_blur(self.size)
        )
        return dataclasses.replace(scenes, images=self.defect.damage(scenes.images, keys))

    def __call__(self, z: torch.Tensor | np.ndarray) -> torch.Tensor:
        latents = z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z)
        rows = np.ascontiguousarray(latents.reshape(len(latents), -1), dtype=np.float32)
        keys = np.array([_random.bytes_key(row.tobytes()) for row in rows], dtype=np.uint64)
        return torch.from_numpy(self.render(keys).images)

    def as_source(self, n: int, seed: int | None = None) -> Any:
        """These images as an :class:`~genlens.io.base.ImageSource` of ``n`` images."""
        from genlens.zoo.sources import ZooSource

        return ZooSource(self, _check_count(n), self.seed if seed is None else int(seed))


def make_generator(kind: str, /, size: int = 32, seed: int = 1, **params: Any) -> ZooGenerator:
    """A world generator with the defect ``kind`` (see :data:`GENERATOR_NAMES`) and its parameters.

    ``make_generator("blur_region", box=(8, 8, 20, 20))``, ``make_generator("drop_class", name="car")``.
    The default ``seed=1`` differs from :func:`genlens.zoo.real_source`'s 0, so a ``clean`` generator is
    a fresh draw from the real distribution.
    """
    cls = _defect_class(kind)
    valid = defect_params(kind)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        accepted = ", ".join(valid) if valid else "none"
        raise ConfigError(f"Zoo generator {kind!r} got unknown parameter(s) {', '.join(unknown)}; it accepts: {accepted}.")
    return ZooGenerator(cls(**params), World(size=size), seed=seed)
