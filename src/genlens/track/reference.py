"""The tracking reference: every tracked view fitted once on the real data, saved, and reused at every step.

Comparing step 3 with step 300 is only meaningful if both were measured against the *same* real
features, the same pixel partition and bandwidth, the same real class areas and the same atlas map.
The reference is therefore built once -- each view's :meth:`~genlens.views.View.fit_tracking` -- saved
beside the store (``<store>.reference/<view>/``) and loaded back by every later or concurrent process;
a reference made from other data or settings is refused, never silently mixed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlens._fs import atomic_write_text, exclusive_lock
from genlens._hashing import hash_json
from genlens._json import json_safe
from genlens.errors import ConfigError, InputError
from genlens.io.base import ImageSource
from genlens.views import RunContext, View, get_view, views

FORMAT = "genlens.track_reference"
VERSION = 4


def tracked_views() -> list[str]:
    """Keys of every registered view that can be tracked."""
    return [v.key for v in views() if v.tracks]


@dataclass(frozen=True)
class ReferenceConfig:
    """What the reference depends on besides the real images (hashed into its identity).

    ``options`` holds each tracked view's ``Options``; ``n_real`` real images are used by every view;
    ``noise_boot`` resamples of each step's images give every value its measurement noise.
    """

    diagnostics: tuple[str, ...] = ("metrics", "regions")
    options: Mapping[str, Any] = field(default_factory=dict)
    n_real: int = 1000
    noise_boot: int = 20
    seed: int = 0

    def check(self) -> None:
        known = tracked_views()
        unknown = [d for d in self.diagnostics if d not in known]
        if unknown or not self.diagnostics:
            raise ConfigError(f"unknown tracking diagnostic(s) {unknown or list(self.diagnostics)}; choose from {known}")
        if self.n_real < 4:
            raise ConfigError(f"n_real must be >= 4, got {self.n_real}")
        if self.noise_boot < 0 or self.noise_boot == 1:
            raise ConfigError(f"noise_boot must be 0 (no measurement noise) or >= 2, got {self.noise_boot}")

    def view_options(self, key: str) -> Any:
        """The ``Options`` of view ``key`` (its defaults when none were given)."""
        return get_view(key).options(self.options.get(key))

    def to_dict(self) -> dict[str, Any]:
        return {
            "diagnostics": list(self.diagnostics),
            "options": {key: dataclasses.asdict(self.view_options(key)) for key in self.diagnostics},
            "n_real": self.n_real,
            "noise_boot": self.noise_boot,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceConfig:
        diagnostics = tuple(data["diagnostics"])
        options = {key: _options_from_json(get_view(key), value) for key, value in data.get("options", {}).items()}
        return cls(diagnostics=diagnostics, options=options, n_real=int(data["n_real"]),
                   noise_boot=int(data["noise_boot"]), seed=int(data["seed"]))


def _options_from_json(view: View, values: Mapping[str, Any]) -> Any:
    """Options back from JSON, where tuples became lists."""
    fixed = {k: (tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v)
             for k, v in values.items()}
    return view.options(fixed)


@dataclass(frozen=True, eq=False)
class Reference:
    """The fitted reference of every tracked view, with the identity of the data and settings."""

    key: str
    config: ReferenceConfig
    real: dict[str, Any]
    image_size: tuple[int, int]
    fitted: Mapping[str, Any]

    @classmethod
    def build(cls, real: ImageSource, config: ReferenceConfig, device: str | None = None,
              cache_dir: str | Path | None = None) -> Reference:
        """Fit every configured view on the first ``n_real`` real images."""
        config.check()
        n_real = min(len(real), config.n_real)
        if n_real < 4:
            raise InputError(f"the real set has {len(real)} images; tracking needs at least 4")
        head = _head(real, n_real)
        ctx = RunContext(device=device or "cpu", cache_dir=Path(cache_dir) if cache_dir else None, seed=config.seed)
        fitted = {key: get_view(key).fit_tracking(head, config.view_options(key), ctx) for key in config.diagnostics}
        return cls(key=reference_key(real, config), config=config, real={**real.describe(), "n_used": n_real},
                   image_size=tuple(real.image_size), fitted=fitted)

    def save(self, folder: str | Path) -> Path:
        """Write each view's reference into ``folder/<view>/`` and ``reference.json`` last (it marks completeness)."""
        folder = Path(folder)
        for key, fitted in self.fitted.items():
            (folder / key).mkdir(parents=True, exist_ok=True)
            get_view(key).save_reference(fitted, folder / key)
        header = {"format": FORMAT, "version": VERSION, "key": self.key, "config": self.config.to_dict(),
                  "real": self.real, "image_size": list(self.image_size)}
        atomic_write_text(folder / "reference.json", json.dumps(json_safe(header), indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str | None = None) -> Reference:
        """Read a reference written by :meth:`save` (no pickle is ever loaded)."""
        folder = Path(folder)
        try:
            header = json.loads((folder / "reference.json").read_text())
            if header.get("format") != FORMAT or header.get("version") != VERSION:
                raise InputError(f"{folder} is not a genlens tracking reference of this version "
                                 f"({header.get('format')} v{header.get('version')}); delete it to rebuild")
            config = ReferenceConfig.from_dict(header["config"])
            ctx = RunContext(device=device or "cpu", seed=config.seed)
            fitted = {key: get_view(key).load_reference(folder / key, ctx) for key in config.diagnostics}
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise InputError(f"tracking reference {folder} is unreadable or incomplete ({err}); delete it to rebuild") from err
        return cls(key=header["key"], config=config, real=header["real"], image_size=tuple(header["image_size"]),
                   fitted=fitted)

    def describe(self) -> dict[str, Any]:
        """What a reader of the results needs to know about the reference (JSON-safe), per view."""
        out: dict[str, Any] = {"key": self.key, "config": self.config.to_dict(), "real": self.real,
                               "image_size": list(self.image_size)}
        for key, fitted in self.fitted.items():
            out[key] = get_view(key).describe_reference(fitted)
        return out


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
    with exclusive_lock(folder):  # concurrent processes build the reference once
        if (folder / "reference.json").exists():
            header = json.loads((folder / "reference.json").read_text())
            if header.get("key") != key:
                raise ConfigError(
                    f"the store beside {folder} was started with other real data or settings "
                    f"(reference {str(header.get('key'))[:12]} vs {key[:12]}); use a new store path, or delete "
                    f"{folder} and the store to start over"
                )
            return Reference.load(folder, device)
        ref = Reference.build(real, config, device=device, cache_dir=cache_dir)
        ref.save(folder)
        return ref


def _head(source: ImageSource, n: int) -> ImageSource:
    """The first ``n`` images of ``source`` (the source itself when it has no more)."""
    from genlens.io.subset import PrefixSource

    return source if n >= len(source) else PrefixSource(source, n)
