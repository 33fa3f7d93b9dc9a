"""The tracking reference: everything derived from the real data once and reused at every step.

Comparing step 3 with step 300 is only meaningful if both were measured against the *same* real
features, the same pixel partition and RBF bandwidth, and the same real class areas. The reference is
therefore built once, saved beside the store (``<store>.reference/``) and loaded back by every later or
concurrent process; a reference made from other data or settings is refused, never silently mixed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genlens._fs import atomic_path, atomic_write_text
from genlens._hashing import hash_json
from genlens._json import json_safe
from genlens.errors import ConfigError, InputError
from genlens.io.base import ImageSource
from genlens.track.atlas import AtlasReference, build_atlas_reference

DIAGNOSTICS = ("metrics", "regions", "semantics", "atlas")
FORMAT = "genlens.track_reference"
VERSION = 3


@dataclass(frozen=True)
class ReferenceConfig:
    """What the reference depends on besides the real images (hashed into its identity)."""

    diagnostics: tuple[str, ...] = ("metrics", "regions")
    features: str = "auto"
    feature_options: dict[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] = ("fid", "kid", "prdc")
    n_real: int = 1000
    n_regions: int = 500
    clusters: int | None = None
    segmenter: str = "zoo"
    segmenter_options: dict[str, Any] = field(default_factory=dict)
    atlas_model: str = "zoo-classifier"
    atlas_options: dict[str, Any] = field(default_factory=dict)
    atlas_layers: tuple[str, ...] | None = None
    atlas_grid: int = 20
    atlas_positions: int = 2
    noise_boot: int = 20  # bootstrap resamples of each step's generated set, for its measurement noise
    seed: int = 0

    def check(self) -> None:
        unknown = [d for d in self.diagnostics if d not in DIAGNOSTICS]
        if unknown or not self.diagnostics:
            raise ConfigError(f"unknown tracking diagnostic(s) {unknown or list(self.diagnostics)}; choose from {list(DIAGNOSTICS)}")
        if self.n_real < 4 or self.n_regions < 4:
            raise ConfigError(f"n_real and n_regions must be >= 4, got {self.n_real} and {self.n_regions}")
        if self.noise_boot < 0 or self.noise_boot == 1:
            raise ConfigError(f"noise_boot must be 0 (no measurement noise) or >= 2, got {self.noise_boot}")
        if self.atlas_grid < 2 or self.atlas_positions < 1:
            raise ConfigError(f"atlas_grid must be >= 2 and atlas_positions >= 1, got {self.atlas_grid}, {self.atlas_positions}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "diagnostics": list(self.diagnostics),
            "features": self.features,
            "feature_options": dict(self.feature_options),
            "metrics": list(self.metrics),
            "n_real": self.n_real,
            "n_regions": self.n_regions,
            "clusters": self.clusters,
            "segmenter": self.segmenter,
            "segmenter_options": dict(self.segmenter_options),
            "atlas_model": self.atlas_model,
            "atlas_options": dict(self.atlas_options),
            "atlas_layers": list(self.atlas_layers) if self.atlas_layers is not None else None,
            "atlas_grid": self.atlas_grid,
            "atlas_positions": self.atlas_positions,
            "noise_boot": self.noise_boot,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceConfig:
        layers = data.get("atlas_layers")
        return cls(**{**data, "diagnostics": tuple(data["diagnostics"]), "metrics": tuple(data["metrics"]),
                      "atlas_layers": tuple(layers) if layers is not None else None})


@dataclass(frozen=True, eq=False)
class Reference:
    """Real-side state for every diagnostic; arrays are only present for the chosen diagnostics."""

    key: str
    config: ReferenceConfig
    real: dict[str, Any]
    image_size: tuple[int, int]
    feature_space: str | None = None
    features: np.ndarray | None = None  # (n, d) real features
    logits: np.ndarray | None = None
    extractor: dict[str, Any] = field(default_factory=dict)
    regions_images: np.ndarray | None = None  # uint8 (n, 3, H, W) real images of the regions view
    partition: Any = None  # genlens.regions.PixelPartition
    gamma: float | None = None
    class_names: tuple[str, ...] = ()
    real_areas: np.ndarray | None = None  # (n, C) per-image class-area fractions
    atlas: AtlasReference | None = None

    @property
    def real_area(self) -> dict[str, float] | None:
        """Mean real area fraction of each class (``None`` without the semantics diagnostic)."""
        if self.real_areas is None:
            return None
        return dict(zip(self.class_names, self.real_areas.mean(axis=0).tolist()))

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def build(cls, real: ImageSource, config: ReferenceConfig, device: str | None = None,
              cache_dir: str | Path | None = None) -> Reference:
        """Compute the reference from ``real`` (features, partition, class areas as configured)."""
        config.check()
        n_real = min(len(real), config.n_real)
        if n_real < 4:
            raise InputError(f"the real set has {len(real)} images; tracking needs at least 4")
        parts: dict[str, Any] = {}
        if "metrics" in config.diagnostics:
            parts.update(_metrics_reference(real, config, n_real, device, cache_dir))
        if "regions" in config.diagnostics:
            parts.update(_regions_reference(real, config, device))
        if "semantics" in config.diagnostics:
            parts.update(_semantics_reference(real, config, n_real, device))
        if "atlas" in config.diagnostics:
            parts["atlas"] = build_atlas_reference(
                real, n_real, config.atlas_model, config.atlas_options, config.atlas_layers, config.atlas_grid,
                config.atlas_positions, seed=config.seed, device=device)
        return cls(
            key=reference_key(real, config), config=config, real={**real.describe(), "n_used": n_real},
            image_size=tuple(real.image_size), **parts,
        )

    # -- persistence ------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``reference.json``, ``arrays.npz`` and ``partition.npz`` atomically into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in ("features", "logits", "regions_images", "real_areas")}
        with atomic_path(folder / "arrays.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **{k: v for k, v in arrays.items() if v is not None})
        if self.partition is not None:
            self.partition.save(folder / "partition.npz")
        if self.atlas is not None:
            with atomic_path(folder / "atlas.npz") as tmp:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, **self.atlas.to_arrays())
        header = {
            "format": FORMAT, "version": VERSION, "key": self.key, "config": self.config.to_dict(),
            "real": self.real, "image_size": list(self.image_size), "feature_space": self.feature_space,
            "extractor": self.extractor, "gamma": self.gamma, "class_names": list(self.class_names),
            "atlas": self.atlas.header() if self.atlas is not None else None,
        }
        atomic_write_text(folder / "reference.json", json.dumps(json_safe(header), indent=1))  # written last: marks completeness
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Reference:
        """Read a reference written by :meth:`save` (no pickle is ever loaded)."""
        from genlens.regions import PixelPartition

        folder = Path(folder)
        try:
            header = json.loads((folder / "reference.json").read_text())
            if header.get("format") != FORMAT:
                raise InputError(f"{folder} is not a genlens tracking reference")
            with np.load(folder / "arrays.npz", allow_pickle=False) as z:
                arrays = {name: np.array(z[name]) for name in z.files}
            config = ReferenceConfig.from_dict(header["config"])
            atlas = None
            if header.get("atlas") is not None:
                with np.load(folder / "atlas.npz", allow_pickle=False) as z:
                    atlas = AtlasReference.from_parts(header["atlas"], {name: z[name] for name in z.files})
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise InputError(f"tracking reference {folder} is unreadable or incomplete ({err}); delete it to rebuild") from err
        partition = PixelPartition.load(folder / "partition.npz") if (folder / "partition.npz").exists() else None
        return cls(
            key=header["key"], config=config, real=header["real"], image_size=tuple(header["image_size"]),
            feature_space=header["feature_space"], extractor=header["extractor"], gamma=header["gamma"],
            class_names=tuple(header["class_names"]), partition=partition,
            features=arrays.get("features"), logits=arrays.get("logits"),
            regions_images=arrays.get("regions_images"), real_areas=arrays.get("real_areas"), atlas=atlas,
        )


def reference_key(real: ImageSource, config: ReferenceConfig) -> str:
    """Identity of a reference: the real data's fingerprint and every setting it depends on."""
    return hash_json({"real": real.fingerprint(), "n": len(real), "config": config.to_dict(), "version": VERSION}, 32)


def load_or_build(folder: Path, real: ImageSource, config: ReferenceConfig, device: str | None = None,
                  cache_dir: str | Path | None = None) -> Reference:
    """The reference in ``folder`` if it matches ``real`` and ``config``; else build and save it.

    A file lock makes concurrent processes build it once: the others wait, then load it.
    """
    key = reference_key(real, config)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.with_name(folder.name + ".lock")):
        if (folder / "reference.json").exists():
            ref = Reference.load(folder)
            if ref.key != key:
                raise ConfigError(
                    f"the store beside {folder} was started with other real data or settings "
                    f"(reference {ref.key[:12]} vs {key[:12]}); use a new store path, or delete {folder} "
                    "and the store to start over"
                )
            return ref
        ref = Reference.build(real, config, device=device, cache_dir=cache_dir)
        ref.save(folder)
        return ref


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _metrics_reference(real: ImageSource, config: ReferenceConfig, n: int, device: str | None,
                       cache_dir: str | Path | None) -> dict[str, Any]:
    from genlens.report.feature_space import extract, resolve_feature_space

    name = resolve_feature_space(config.features, real)
    subset = _head(real, n)
    feats = extract(subset, name, device=device, cache_dir=cache_dir, extractor_kwargs=config.feature_options)
    return {"feature_space": name, "features": feats.features.astype(np.float32),
            "logits": feats.logits, "extractor": feats.extractor}


def _regions_reference(real: ImageSource, config: ReferenceConfig, device: str | None) -> dict[str, Any]:
    from genlens.regions import build_partition, gamma_from_median

    images = real.read(0, min(len(real), config.n_regions))
    partition = build_partition(images, clusters=config.clusters, max_images=None, device=device)
    return {"regions_images": images.numpy(), "partition": partition,
            "gamma": gamma_from_median(float(partition.median_sq_dist))}


def _semantics_reference(real: ImageSource, config: ReferenceConfig, n: int, device: str | None) -> dict[str, Any]:
    from genlens.semantics import get_segmenter, segment_source

    segmenter = get_segmenter(config.segmenter, device=device, **config.segmenter_options)
    areas = segment_source(real, segmenter, max_images=n, description="segmenting real images")
    return {"class_names": tuple(str(c) for c in segmenter.classes), "real_areas": areas}


def _head(source: ImageSource, n: int) -> ImageSource:
    """The first ``n`` images of ``source`` (the source itself when it has no more)."""
    if n >= len(source):
        return source
    from genlens.io import ArraySource

    return ArraySource(source.read(0, n), name=f"first {n} of {source.describe().get('kind', 'real')}")
