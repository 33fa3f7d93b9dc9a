"""``genlens track`` over runs saved on disk: numeric step order, symlinked steps, checkpoints, resume."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from genlens.cli import _register_commands, app
from genlens.errors import InputError
from genlens.track.disk import discover_runs, step_number
from genlens.zoo import make_generator

REAL = "zoo:real?n=120&seed=5"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register_commands()
    return CliRunner()


def test_step_numbers_are_the_last_number_in_the_name():
    assert step_number("epoch_012") == 12
    assert step_number("run3-step-1000.npz") == 1000
    assert step_number("ckpt_7.pt") == 7
    assert step_number("final") is None


def _save_pngs(folder, images):
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0))).save(folder / f"{i:03d}.png")


@pytest.fixture
def runs_dir(tmp_path):
    world = make_generator("clean", seed=3)
    runs = tmp_path / "runs"
    (runs / "arrays").mkdir(parents=True)
    for step in (1, 2, 10, 3, 4):  # written out of order; "10" sorts before "2" as text
        np.savez(runs / "arrays" / f"step-{step}.npz", world.sample(60, seed=step).images)
    elsewhere = tmp_path / "elsewhere"
    for step in (0, 1, 2, 3):
        _save_pngs(elsewhere / f"e{step}", world.sample(40, seed=50 + step).images)
    (runs / "folders").mkdir()
    for step in (0, 1, 2, 3):
        (runs / "folders" / f"epoch_{step}").symlink_to(elsewhere / f"e{step}", target_is_directory=True)
    (runs / "folders" / "notes.txt").write_text("ignored")
    return runs


def test_discovery_orders_steps_numerically_and_follows_symlinks(runs_dir):
    found = discover_runs(runs_dir)
    assert sorted(found) == ["arrays", "folders"]
    assert [e.step for e in found["arrays"]] == [1, 2, 3, 4, 10]
    assert [e.step for e in found["folders"]] == [0, 1, 2, 3]


def test_discovery_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discover_runs(tmp_path / "nope")
    (tmp_path / "r" / "a" / "final").mkdir(parents=True)
    with pytest.raises(InputError, match="no number"):
        discover_runs(tmp_path / "r")


@pytest.mark.slow
def test_track_command_writes_report_and_resumes(runner, runs_dir, tmp_path):
    out = tmp_path / "out"
    args = ["track", "--real", REAL, "--runs", str(runs_dir), "--out", str(out), "-d", "regions,atlas", "-k", "3",
            "--quick", "--atlas-grid", "6"]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output + repr(result.exception)
    doc = json.loads((out / "results.json").read_text())
    assert [s for s, _ in doc["series"]["arrays"]["regions/cms"]] == [1, 2, 3, 4, 10]
    assert [s for s, _ in doc["series"]["arrays"]["atlas/block4/js"]] == [1, 2, 3, 4, 10]
    assert doc["reference"]["atlas"]["grid"] == 6
    assert [s for s, _ in doc["series"]["folders"]["regions/cms"]] == [0, 1, 2, 3]
    assert isinstance(doc["events"], list)
    assert (out / "report.html").is_file() and (out / "track.sqlite").is_file()
    assert "tracked 9 new step(s)" in result.output
    assert all(f"arrays step {step}: " in result.output for step in (1, 2, 3, 4, 10))  # each step's time
    assert doc["reference"]["atlas"]["model"] == "zoo-classifier"  # zoo images name their own network
    again = runner.invoke(app, args, terminal_width=200)
    assert again.exit_code == 0 and "tracked 0 new step(s)" in again.output
    # never write into the inputs
    inside = runner.invoke(app, ["track", "--real", REAL, "--runs", str(runs_dir), "--out", str(runs_dir / "o"),
                                 "-d", "regions"])
    assert isinstance(inside.exception, InputError)


FACTORY = textwrap.dedent("""
    import torch
    from torch import nn

    def build():
        return nn.Sequential(nn.Linear(8, 3 * 16 * 16), nn.Tanh(), nn.Unflatten(1, (3, 16, 16)))
""")


@pytest.mark.slow
def test_checkpoint_runs_are_sampled_through_a_factory(runner, tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "tiny_generator.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    from tiny_generator import build  # noqa: E402 -- written just above

    run = tmp_path / "runs" / "seed-0"
    run.mkdir(parents=True)
    for step in (0, 5):
        torch.manual_seed(step)
        torch.save(build().state_dict(), run / f"ckpt_{step}.pt")
    out = tmp_path / "out"
    result = runner.invoke(app, ["track", "--real", "zoo:real?n=80&seed=5&size=16", "--runs", str(tmp_path / "runs"),
                                 "--out", str(out), "-d", "regions", "-k", "2", "--generator", "tiny_generator:build",
                                 "--latent-dim", "8", "--n", "64"], terminal_width=200)
    assert result.exit_code == 0, result.output + repr(result.exception)
    doc = json.loads((out / "results.json").read_text())
    values = dict(doc["series"]["seed-0"]["regions/cms"])
    assert sorted(values) == [0, 5]
    assert values[0] != values[5]  # two different checkpoints were loaded
    missing = runner.invoke(app, ["track", "--real", "zoo:real?n=80&seed=5&size=16", "--runs", str(tmp_path / "runs"),
                                  "--out", str(tmp_path / "out2"), "-d", "regions"])
    assert "--generator" in str(missing.exception)
