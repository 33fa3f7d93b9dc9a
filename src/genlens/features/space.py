"""Which feature space the standard metrics use, and the features of a source in it.

The default must work offline: ``inception-v3-fid`` needs a weights file we cannot download, so
``auto`` picks the inputs' own feature space when they name one (world scenes name the zoo
classifier's penultimate features, a network trained on exactly that distribution), else
``random-vgg16`` -- the seeded random
embedding the precision/recall/density/coverage paper recommends for domains without a pretrained
network. Numbers from different feature spaces are not comparable; the choice is recorded.

``learned`` is trained on the real images themselves (:mod:`genlens.features.learned`): build its
extractor once with ``train_on=REAL`` (:func:`feature_extractor`) and extract every set with that one
extractor, so generated images are measured by the encoder the real set trained and never train one.
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
#: Feature spaces trained on the real set: their extractor needs ``train_on``.
TRAINED_ON_REAL = frozenset({"learned"})


#: The default for images with no network of their own when a real set is given to train on.
LEARNED_FEATURES = "learned"


def default_feature_space(*sources: ImageSource, real_given: bool = False) -> str:
    """The inputs' own feature space when they all name the same one (world scenes: the zoo classifier);
    else ``learned`` when a real set is there to train it (``real_given``), else ``random-vgg16``.

    ``learned`` is the default for a comparison because, unlike a random network, it is trained on what
    varies between the user's own real images, and it is cheap: a small encoder at the images' size
    instead of a VGG-16 at 224 px (docs/io-and-features.md). Extracting one set alone has no real set to
    train on, so it falls back to the untrained ``random-vgg16``."""
    names = {s.defaults().get("features") for s in sources}
    if len(names) == 1 and None not in names:
        return names.pop()
    return LEARNED_FEATURES if real_given else GENERIC_FEATURES


def resolve_feature_space(name: str | None, *sources: ImageSource, real_given: bool = False) -> str:
    """``auto``/``None`` -> :func:`default_feature_space`; anything else unchanged."""
    return default_feature_space(*sources, real_given=real_given) if name in (None, "", "auto") else name


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


def feature_extractor(
    name: str,
    image_size: tuple[int, int],
    device: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    extractor_kwargs: dict[str, Any] | None = None,
    train_on: ImageSource | None = None,
) -> Any:
    """The extractor of feature space ``name`` for images of ``image_size``.

    ``train_on`` is the real set a space in :data:`TRAINED_ON_REAL` trains on (cached under
    ``cache_dir``); other spaces ignore it. ``extractor_kwargs`` go to ``get_extractor``."""
    from genlens.features import get_extractor

    kwargs = {"image_size": tuple(image_size), **(extractor_kwargs or {})}  # for per-size networks
    if name in TRAINED_ON_REAL:
        kwargs.setdefault("real", train_on)
        kwargs.setdefault("cache_dir", cache_dir)
    return get_extractor(name, device=device, **kwargs)


def rebuild_kwargs(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Extra ``get_extractor`` arguments that rebuild the extractor of saved features from their
    provenance ``record`` when the name alone cannot (``learned``: its trained weights file); else ``{}``."""
    if name not in TRAINED_ON_REAL:
        return {}
    from genlens.features.learned import rebuild_kwargs as learned_kwargs

    return learned_kwargs(record)


def extract(
    source: ImageSource,
    name: str,
    device: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    extractor_kwargs: dict[str, Any] | None = None,
    train_on: ImageSource | None = None,
    extractor: Any = None,
) -> FeatureSet:
    """Features (and logits, when the extractor has them) of ``source`` in feature space ``name``, cached.

    ``extractor_kwargs`` go to ``get_extractor`` (e.g. ``{"quick": True}`` for the zoo classifier).
    ``train_on``: the real set a ``learned`` space trains on (never ``source`` unless it is that set).
    ``extractor``: one built before (:func:`feature_extractor`), so several sets share one network."""
    from genlens.features import extract_features

    if extractor is None:
        extractor = feature_extractor(name, source.image_size, device, cache_dir, extractor_kwargs, train_on)
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
