"""The zoo models whose weights ship with genlens, and the command that remakes them.

The tests and the demo measure with these networks (the classifier's features and activations, the
segmenter's classes, the VAEs' decoders) and judge these generators (the DCGANs). Training them on
the user's machine would make every verdict depend on the CPU that trained them, so genlens ships
their weights; ``genlens zoo train --out src/genlens/zoo/weights`` remakes them from their recipes
(same code path as a user's own training, with ``pretrained=False``) and rewrites the manifest.

Runs that the demo trains on purpose (the tracking experiment's seeds and its planted blow-up) are
not shipped: the experiment is about training, and its findings must hold for any trajectory.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlens._fs import atomic_path, atomic_write_text
from genlens._hashing import sha256_file
from genlens.errors import ConfigError
from genlens.zoo.models import store

#: Epochs of the zoo DCGAN in the layer-inversion tests, whose last generator alone is shipped.
INVERSION_EPOCHS = 20


@dataclass(frozen=True)
class ReferenceModel:
    """One shipped model: a factory of :mod:`genlens.zoo.models` and its keyword arguments."""

    label: str
    factory: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def load(self, **extra: Any) -> Any:
        from genlens.zoo import models

        return getattr(models, self.factory)(**self.kwargs, **extra)


def demo_dcgan_epochs(quick: bool) -> tuple[int, ...]:
    """The epochs of the demo's DCGAN that its report shows: untrained, halfway, last."""
    from genlens.zoo.models.world_dcgan import RECIPES

    epochs = RECIPES[quick]["epochs"]
    return (0, epochs // 2, epochs)


def _models() -> tuple[ReferenceModel, ...]:
    out = [
        ReferenceModel("classifier-quick", "classifier", {"quick": True}),
        ReferenceModel("classifier", "classifier", {}),
        ReferenceModel("segmenter-quick", "segmenter", {"quick": True}),
        ReferenceModel("segmenter", "segmenter", {}),
    ]
    for beta in (0.25, 1.0, 2.0, 4.0):
        out.append(ReferenceModel(f"vae-quick-beta{beta:g}", "vae", {"beta": beta, "quick": True}))
    out.append(ReferenceModel("vae-quick-beta0.25-seed1", "vae", {"beta": 0.25, "quick": True, "seed": 1}))
    for beta in (1.0, 4.0):
        out.append(ReferenceModel(f"vae-beta{beta:g}", "vae", {"beta": beta}))
    for seed in (0, 1, 2):  # the test suite's tracking experiment: every epoch
        out.append(ReferenceModel(f"dcgan-quick-seed{seed}", "dcgan", {"quick": True, "seed": seed}))
    for quick in (True, False):  # the demo's DCGAN: the epochs its report shows
        out.append(ReferenceModel(f"dcgan-demo{'-quick' if quick else ''}", "dcgan",
                                  {"quick": quick, "keep_epochs": demo_dcgan_epochs(quick)}))
    for exclude in (None, "car"):  # layer inversion: a generator that never saw a car, and its control
        out.append(ReferenceModel(f"dcgan-inversion-{exclude or 'control'}", "dcgan",
                                  {"quick": True, "epochs": INVERSION_EPOCHS, "exclude_class": exclude,
                                   "keep_epochs": (INVERSION_EPOCHS,)}))
    return tuple(out)


#: Every shipped model, by label.
REFERENCE_MODELS: dict[str, ReferenceModel] = {m.label: m for m in _models()}


def select(labels: Sequence[str] | None) -> list[ReferenceModel]:
    """The reference models named by ``labels`` (all when ``None``); unknown labels are refused."""
    if not labels:
        return list(REFERENCE_MODELS.values())
    unknown = [label for label in labels if label not in REFERENCE_MODELS]
    if unknown:
        raise ConfigError(f"unknown zoo model(s) {unknown}; choose from {sorted(REFERENCE_MODELS)}")
    return [REFERENCE_MODELS[label] for label in labels]


def train_reference_models(out: str | Path, labels: Sequence[str] | None = None,
                           device: str | None = None) -> dict[str, dict[str, Any]]:
    """Train the chosen reference models from their recipes into ``out`` and update its manifest.

    Each model trains in a scratch cache (``pretrained=False``: shipped weights are never copied) and
    its state dict is written into ``out`` under the store's file name; the manifest records the
    config, SHA-256, size and the machine that trained it. Training uses one CPU thread: the order of
    a multi-threaded sum depends on the thread count, so one thread lets a rerun on the same kind of
    machine reproduce the files bit for bit. Returns the manifest entries written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = store.read_manifest(out)
    written: dict[str, dict[str, Any]] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        written = _train_into(out, select(labels), device)
    finally:
        torch.set_num_threads(threads)
    stale = {name for name, entry in manifest.items() if entry.get("label") in {e["label"] for e in written.values()}}
    for name in stale - set(written):
        (out / name).unlink(missing_ok=True)
        manifest.pop(name)
    manifest.update(written)
    doc = {"format": store.MANIFEST_FORMAT, "version": 1, "models": dict(sorted(manifest.items()))}
    atomic_write_text(out / store.MANIFEST, json.dumps(doc, indent=1) + "\n")
    return written


def _train_into(out: Path, models: list[ReferenceModel], device: str | None) -> dict[str, dict[str, Any]]:
    written: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="genlens-zoo-train-") as scratch:
        for model in models:
            extra = {"cache_dir": scratch, "pretrained": False}
            if model.factory != "vae":
                extra["device"] = device
            model.load(**extra)
            (cached,) = [p for p in Path(scratch, "zoo").glob("*.pt") if p.name not in written]
            config = json.loads(cached.with_suffix(".json").read_text())
            with atomic_path(out / cached.name) as tmp:
                shutil.copyfile(cached, tmp)
            written[cached.name] = {
                "label": model.label, "name": config["name"], "config": config["config"],
                "sha256": sha256_file(out / cached.name), "bytes": (out / cached.name).stat().st_size,
                "trained_with": {"torch": torch.__version__, "machine": platform.machine(),
                                 "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                                 "device": device or "auto", "threads": torch.get_num_threads()},
            }
    return written


def status() -> list[dict[str, Any]]:
    """For every reference model: its label, file, and whether genlens ships its weights."""
    from genlens.zoo.models.store import SHIPPED_DIR, read_manifest

    shipped = {entry["label"]: (name, entry) for name, entry in read_manifest(SHIPPED_DIR).items()}
    rows = []
    for label in REFERENCE_MODELS:
        name, entry = shipped.get(label, (None, {}))
        rows.append({"label": label, "file": name, "shipped": name is not None and (SHIPPED_DIR / name).exists(),
                     "bytes": entry.get("bytes")})
    return rows
