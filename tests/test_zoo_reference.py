"""The shipped zoo weights: complete, verified, used instead of training, and remade by `genlens zoo train`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genlens.errors import GenlensError
from genlens.zoo.models import reference, store


def test_every_reference_model_loads_from_the_shipped_weights_without_training(tmp_path: Path) -> None:
    manifest = store.read_manifest(store.SHIPPED_DIR)
    assert {entry["label"] for entry in manifest.values()} == set(reference.REFERENCE_MODELS)
    for model in reference.REFERENCE_MODELS.values():
        extra = {"cache_dir": tmp_path}
        if model.factory != "vae":
            extra["device"] = "cpu"
        model.load(**extra)
    # nothing was trained: a stale recipe (its config no longer matching a shipped file) would train here
    assert not (tmp_path / "zoo").exists() or not list((tmp_path / "zoo").glob("*.pt"))


def test_a_damaged_shipped_file_is_refused_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    label = "classifier-quick"
    name, entry = next((n, e) for n, e in store.read_manifest().items() if e["label"] == label)
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(store.SHIPPED_DIR / store.MANIFEST, folder / store.MANIFEST)
    damaged = bytearray((store.SHIPPED_DIR / name).read_bytes())
    damaged[-100] ^= 0xFF
    (folder / name).write_bytes(bytes(damaged))
    monkeypatch.setattr(store, "SHIPPED_DIR", folder)
    store._shipped_manifest.cache_clear()
    try:
        with pytest.raises(GenlensError, match="SHA-256.*reinstall genlens"):
            reference.REFERENCE_MODELS[label].load(cache_dir=tmp_path / "cache", device="cpu")
    finally:
        store._shipped_manifest.cache_clear()


def test_pretrained_false_ignores_the_shipped_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import genlens.zoo.models.scene_classifier as classifier_module

    calls = []
    monkeypatch.setattr(classifier_module, "fit_cross_entropy", lambda *a, **k: calls.append(1))
    shipped = reference.REFERENCE_MODELS["classifier-quick"].load(device="cpu")
    fresh = reference.REFERENCE_MODELS["classifier-quick"].load(device="cpu", cache_dir=tmp_path, pretrained=False)
    assert calls == [1]  # trained (here: a no-op), not copied
    assert not torch.equal(shipped.fc.weight, fresh.fc.weight)
    assert len(list((tmp_path / "zoo").glob("zoo-classifier-*.pt"))) == 1


@pytest.mark.slow
def test_zoo_train_remakes_models_of_reference_quality_and_records_their_sha256(tmp_path: Path) -> None:
    from genlens.cli import _register_commands, app
    from genlens.zoo import CLASSES, World
    from genlens.zoo.models.scene_segmenter import per_class_iou

    _register_commands()
    out = tmp_path / "weights"
    result = CliRunner().invoke(app, ["zoo", "train", "--out", str(out), "--only", "classifier-quick,segmenter-quick",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())["models"]
    assert sorted(e["label"] for e in manifest.values()) == ["classifier-quick", "segmenter-quick"]
    for name, entry in manifest.items():
        assert store.load_state(out / name, entry["sha256"])  # the recorded hash is the file's
        shipped = next(n for n, e in store.read_manifest().items() if e["label"] == entry["label"])
        assert name == shipped  # same recipe, same file name: it would replace the shipped one
    # quality, not identity: retrained here, the models do their job as well as the shipped ones
    (tmp_path / "c" / "zoo").mkdir(parents=True)
    for name in manifest:  # the cache then holds exactly the files `zoo train` wrote
        shutil.copy(out / name, tmp_path / "c" / "zoo" / name)
    held_out = World(size=32).sample(400, seed=1)
    classifier = reference.REFERENCE_MODELS["classifier-quick"].load(cache_dir=tmp_path / "c", device="cpu",
                                                                     pretrained=False)
    accuracy = float(np.mean(classifier.predict(held_out.images, device="cpu").numpy() == held_out.main_class))
    assert accuracy >= 0.95, accuracy
    segmenter = reference.REFERENCE_MODELS["segmenter-quick"].load(cache_dir=tmp_path / "c", device="cpu",
                                                                   pretrained=False)
    iou = per_class_iou(segmenter(held_out.images), held_out.labels, len(CLASSES))
    assert np.nanmean(iou) >= 0.8 and np.all(iou >= 0.5), iou


def test_zoo_list_names_every_model_as_shipped() -> None:
    from genlens.cli import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["zoo", "list"])
    assert result.exit_code == 0, result.output
    for label in reference.REFERENCE_MODELS:
        line = next(line for line in result.output.splitlines() if line.startswith(label + " "))
        assert "shipped" in line and "missing" not in line


def test_a_run_can_keep_only_some_epochs() -> None:
    from genlens.errors import ConfigError

    run = reference.REFERENCE_MODELS["dcgan-demo-quick"].load(device="cpu")
    assert run.kept_epochs == reference.demo_dcgan_epochs(quick=True)
    assert run.sample(2, seed=0, epoch=run.epochs).shape[0] == 2
    with pytest.raises(ConfigError, match="keeps the generators of epochs"):
        run.generator(1)
