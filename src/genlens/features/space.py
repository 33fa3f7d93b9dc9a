"""Which feature space the standard metrics use, and the features of a source in it.

The default must work offline: ``inception-v3-fid`` needs a weights file we cannot download, so
``auto`` picks the inputs' own feature space when they name one (world scenes name the zoo
classifier's penultimate features, a network trained on exactly that distribution), else
``random-vgg16`` -- the seeded random
embedding the precision/recall/density/coverage paper recommends for domains without a pretrained
network. Numbers from different feature spaces are not comparable; the choice is recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genlens.errors import InputError
from genlens.io.base import ImageSource

GENERIC_FEATURES = "random-vgg16"


def default_feature_space(*sources: ImageSource) -> str:
    """The inputs' own feature space when they all name the same one (world scenes: the zoo classifier),
    else ``random-vgg16``."""
    names = {s.defaults().get("features") for s in sources}
    return names.pop() if len(names) == 1 and None not in names else GENERIC_FEATURES


def resolve_feature_space(name: str | None, *sources: ImageSource) -> str:
    """``auto``/``None`` -> :func:`default_feature_space`; anything else unchanged."""
    return default_feature_space(*sources) if name in (None, "", "auto") else name


@dataclass(frozen=True)
class FeatureSet:
    """Features of one input (``(n, d)`` float), its logits when the network has them, and provenance."""

    features: np.ndarray
    logits: np.ndarray | None = None
    source: dict[str, Any] = field(default_factory=dict)
    extractor: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def head(self, n: int | None) -> "FeatureSet":
        """The first ``n`` rows (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        from genlens._hashing import hash_json

        logits = None if self.logits is None else self.logits[:n]
        source = {**self.source, "n": n, "fingerprint": hash_json({"prefix_of": self.source.get("fingerprint"), "n": n}, 32)}
        return FeatureSet(self.features[:n], logits, source, self.extractor)


def extract(
    source: ImageSource,
    name: str,
    device: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    extractor_kwargs: dict[str, Any] | None = None,
) -> FeatureSet:
    """Features (and logits, when the extractor has them) of ``source`` in feature space ``name``, cached.

    ``extractor_kwargs`` go to ``get_extractor`` (e.g. ``{"quick": True}`` for the zoo classifier)."""
    from genlens.features import extract_features, get_extractor

    kwargs = {"image_size": tuple(source.image_size), **(extractor_kwargs or {})}  # for per-size networks
    extractor = get_extractor(name, device=device, **kwargs)
    primary = extractor.outputs[0]
    wanted = [primary, "logits"] if "logits" in extractor.outputs[1:] else [primary]
    out = extract_features(source, extractor, cache_dir=cache_dir, batch_size=batch_size, outputs=wanted)
    features = np.require(out[primary].reshape(len(source), -1), requirements="W")
    logits = None if out.get("logits") is None else np.require(out["logits"], requirements="W")
    return FeatureSet(features, logits, source.describe(), _describe_extractor(extractor, name))


def load_precomputed(path: str | os.PathLike[str]) -> FeatureSet:
    """A ``.npy``/``.npz`` ``(n, d)`` feature array given in place of images (``--features precomputed``)."""
    from genlens._hashing import hash_array
    from genlens.features import load_precomputed as load

    features = np.require(load(path), requirements="W")  # torch.from_numpy warns on read-only arrays
    logits = _npz_logits(Path(path), len(features))
    source = {"kind": "precomputed", "path": str(path), "n": int(features.shape[0]), "fingerprint": hash_array(features)[:32]}
    return FeatureSet(features, logits, source, {"feature_space": "precomputed", "name": "precomputed", "dim": int(features.shape[1])})


def _npz_logits(path: Path, n: int) -> np.ndarray | None:
    """The ``logits`` array of an .npz written by ``genlens features`` (for IS), checked; else None."""
    if path.suffix.lower() != ".npz":
        return None
    with np.load(path, allow_pickle=False) as archive:
        if "logits" not in archive.files:
            return None
        logits = np.array(archive["logits"], dtype=np.float64)
    if logits.ndim != 2 or len(logits) != n or not np.isfinite(logits).all():
        raise InputError(f"{path}: 'logits' must be a finite (n, classes) array with one row per feature row")
    return logits


def _describe_extractor(extractor: Any, name: str) -> dict[str, Any]:
    """Provenance of the features: the registry name asked for, the extractor's own description, its
    output size and fingerprint (which keys the feature cache)."""
    desc: dict[str, Any] = {"feature_space": name}
    describe = getattr(extractor, "describe", None)
    if callable(describe):
        desc.update(describe())
    desc.setdefault("name", getattr(extractor, "name", name))
    for attr in ("dim", "fingerprint"):
        try:
            value = getattr(extractor, attr)
            desc[attr] = value() if callable(value) else value
        except Exception:  # noqa: BLE001 -- provenance is best effort; the features themselves are checked
            pass
    return desc
