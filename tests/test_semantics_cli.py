"""`genlens semantics` and `genlens invert` on small array inputs with test-module segmenter/generator factories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from test_semantics_statistics import render

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def cli():
    from genlens.cli import _register_commands, app

    _register_commands()
    return app


@pytest.fixture
def arrays(tmp_path):
    real, _ = render(120, seed=0)
    fake, _ = render(120, seed=1, drop=3)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake)
    return tmp_path / "real.npy", tmp_path / "fake.npy"


def test_semantics_command_writes_the_json_contract_and_figures(cli, arrays, tmp_path):
    real, fake = arrays
    out_json, out_dir = tmp_path / "sem.json", tmp_path / "figs"
    result = CliRunner().invoke(cli, ["semantics", str(real), str(fake), "--segmenter", "test_semantics_statistics:SEG",
                                      "--json", str(out_json), "--out", str(out_dir), "--n-boot", "100"])
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text())
    assert data["fsd"] > 0 and data["units"] == "fraction"
    first = data["classes"][0]
    assert first["name"] == "sun"
    for key in ("name", "real_area", "fake_area", "real_presence", "fake_presence", "ci"):
        assert key in first
    assert first["fake_area"] == 0 and first["ci"][1] < 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["semantics-areas.png", "semantics-presence.png"]


@pytest.mark.slow
def test_invert_command_with_a_factory_generator(cli, tmp_path):
    images, _ = render(3, seed=4, size=16)
    np.save(tmp_path / "imgs.npy", images)
    out = tmp_path / "inv"
    result = CliRunner().invoke(cli, [
        "invert", str(tmp_path / "imgs.npy"), "--generator", "test_semantics_inversion:tiny_generator",
        "--split", "fc", "--out", str(out), "--segmenter", "test_semantics_statistics:SEG",
        "--steps", "20", "--encoder-steps", "20", "--n", "3",
    ])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "inversion.json").read_text())
    assert data["inversion"]["n"] == 3 and len(data["instances"]["images"]) == 3
    saved = np.load(out / "reconstructions.npz")
    assert saved["reconstructions"].shape == (3, 3, 16, 16)
    assert (out / "semantics-instances.png").exists()


def test_bad_input_is_one_clear_line_with_exit_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": TESTS}
    proc = subprocess.run(
        [sys.executable, "-c", "from genlens.cli import main; main()", "semantics", str(tmp_path / "missing"),
         str(tmp_path / "missing2"), "--segmenter", "test_semantics_statistics:SEG"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1
    proc = subprocess.run(
        [sys.executable, "-c", "from genlens.cli import main; main()", "semantics", "zoo:real?n=8", "zoo:clean?n=8",
         "--segmenter", "bogus"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 2 and "unknown segmenter" in proc.stderr
