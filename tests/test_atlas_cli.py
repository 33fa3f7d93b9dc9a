"""``genlens atlas`` end to end (PCA layout for speed), the report hook, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from genlens.cli import _register_commands, app
from genlens.views import RunContext, get_view
from genlens.zoo import make_generator, real_source

pytestmark = pytest.mark.slow
REAL = "zoo:real?n=60&seed=0"
FAKE = "zoo:drop_class?name=car&n=60"


def test_atlas_cli_writes_json_figures_and_viewer(tmp_path):
    _register_commands()
    out, path = tmp_path / "out", tmp_path / "atlas.json"
    args = ["atlas", REAL, FAKE, "--quick", "--method", "pca", "--layers", "block3,block4", "--grid", "6,12",
            "--positions", "2", "--splits", "3", "--json", str(path), "--out", str(out)]
    res = CliRunner().invoke(app, args, terminal_width=200)
    assert res.exit_code == 0, res.output
    data = json.loads(path.read_text())
    assert list(data["layers"]) == ["block3", "block4"]
    for layer in data["layers"].values():
        assert layer["n_activations"] == 2 * 60 * 2
        assert list(layer["grids"]) == ["6", "12"]
        for entry in layer["grids"].values():
            assert {"kl_real_fake", "kl_fake_real", "js", "noise_floor", "top_cells"} <= set(entry)
            assert 0 <= entry["js"] <= 0.6932 and entry["noise_floor"]["js"] >= 0
            for cell in entry["top_cells"]:
                assert cell["n_real"] + cell["n_fake"] > 0 and 0 <= cell["p_family"] <= 1
    assert data["pseudo_count"] == 0.5 and data["layout"]["method"] == "pca"
    assert (out / "atlas.html").is_file() and (out / "excess-js.png").is_file()
    assert (out / "atlas-block4-6.png").is_file()


def test_bad_grid_is_one_clear_line():
    res = subprocess.run([sys.executable, "-c", "from genlens.cli import main; main()", "atlas", REAL, FAKE, "--grid", "20,x"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "--grid" in res.stderr and "Traceback" not in res.stderr


def test_report_hook_returns_a_section_and_writes_the_viewer(tmp_path):
    view = get_view("atlas")
    real, fake = real_source(40, seed=0), make_generator("clean", seed=1).as_source(40)
    options = view.options({"quick": True, "layers": "block4", "grids": (5,), "method": "pca", "positions": 2})
    assert view.applies(real, fake, options) is None
    section = view.section(view.fit(real, options, RunContext()), fake, RunContext(out_dir=tmp_path))
    assert section.key == "atlas" and section.figures and section.table is not None
    assert "block4" in section.data["layers"] and (tmp_path / "atlas.html").is_file()
    assert section.data["layout"]["method"] == "pca" and any("atlas.html" in note for note in section.notes)
    assert "at least" in view.applies(real_source(5), real_source(5), view.options())
