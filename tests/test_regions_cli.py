"""``genlens regions`` end to end, and the report hook: JSON schema, partition reuse, figures, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from genlens.cli import _register_commands, app
from genlens.errors import InputError
from genlens.views import RunContext, get_view
from genlens.zoo import make_generator, real_source

pytestmark = pytest.mark.slow

REAL = "zoo:real?n=120&seed=0"
FAKE = "zoo:color_shift_region?box=2,2,14,14&n=120&seed=4"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register_commands()
    return CliRunner()


def test_regions_json_schema_figures_and_partition_reuse(runner, tmp_path) -> None:
    out, part = tmp_path / "figs", tmp_path / "part.json"
    args = [REAL, FAKE, "--clusters", "4", "--n-boot", "30", "--json", str(tmp_path / "a.json"),
            "--out", str(out), "--save-partition", str(part), "--cka-batch", "60"]
    res = runner.invoke(app, ["regions", *args], terminal_width=200)
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "a.json").read_text())
    p = data["partition"]
    assert p["k"] == 4 and len(p["labels"]) == 32 and len(p["labels"][0]) == 32
    assert sorted({v for row in p["labels"] for v in row}) == [0, 1, 2, 3]
    assert sum(p["sizes"]) == 1024 and 0.0 <= p["max_cross_cka"] <= 1.0
    cms = data["cms"]
    assert {"image", "product", "clusters"} <= set(cms)
    assert [c["id"] for c in cms["clusters"]] == [0, 1, 2, 3]
    for c in cms["clusters"]:
        assert {"id", "cms", "ci", "share", "n_pixels"} <= set(c)
        assert c["ci"][0] <= c["cms"] <= c["ci"][1]
    assert sum(c["share"] for c in cms["clusters"]) == pytest.approx(1.0)
    assert cms["product"] == pytest.approx(np.prod([c["cms"] for c in cms["clusters"]]))
    assert sorted(f.name for f in out.iterdir()) == [
        "regions-cka.png", "regions-clusters.png", "regions-cms.png", "regions-deficit.png"]
    assert f"worst: cluster {data['worst_cluster']}" in res.output

    # the saved partition is reused as is: same clusters and bandwidth, no CKA recomputed
    res2 = runner.invoke(app, ["regions", REAL, "zoo:clean?n=120&seed=4", "--partition", str(part),
                               "--n-boot", "0", "--json", str(tmp_path / "b.json")])
    assert res2.exit_code == 0, res2.output
    again = json.loads((tmp_path / "b.json").read_text())
    assert again["partition"]["labels"] == p["labels"] and again["gamma"] == data["gamma"]
    assert again["cms"]["image"] > cms["image"]  # clean beats the colour-shifted generator


def test_help_lists_the_options(runner) -> None:
    res = runner.invoke(app, ["regions", "--help"], terminal_width=200)
    for opt in ("--clusters", "--partition", "--save-partition", "--json", "--out", "--bandwidth-scale"):
        assert opt in res.output


def test_size_mismatch_is_one_clear_line_and_exit_2(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from genlens.cli import main; main()", "regions", "zoo:real?n=20&size=32",
         "zoo:clean?n=20&size=64"], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "resize" in proc.stderr and "Traceback" not in proc.stderr


def test_report_hook(tmp_path) -> None:
    view = get_view("regions")
    real, fake = real_source(60, seed=0), make_generator("clean", seed=3).as_source(60, seed=3)
    options = view.options({"clusters": 3, "n_boot": 20})
    assert view.applies(real, fake, options) is None
    fitted = view.fit(real, options, RunContext())
    section = view.section(fitted, fake, RunContext())
    assert section.key == "regions" and section.status == "ok"
    assert "No pixel cluster falls below its real-vs-real floor beyond noise" in section.summary  # clean
    assert len(section.figures) == 4 and section.table is not None
    json.dumps(section.data)
    other = real_source(60, seed=1, size=64)
    assert "pixel by pixel" in view.applies(real, other, options)
    with pytest.raises(InputError):
        view.section(fitted, other, RunContext())
