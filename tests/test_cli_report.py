"""``genlens report`` and ``genlens demo`` end to end on the planted-defect world."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from bs4 import BeautifulSoup
from PIL import Image
from typer.testing import CliRunner

from genlens.cli import _register_commands, app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register_commands()
    return CliRunner()


def test_report_on_zoo_inputs(runner, tmp_path):
    out = tmp_path / "rep"
    result = runner.invoke(
        app,
        ["report", "zoo:real?n=80", "zoo:drop_class?n=80&name=car", "--out", str(out), "--features", "pixels",
         "--only", "metrics", "--metrics", "kid,prdc,mmd,cms", "--n-boot", "5", "--title", "drop <car>"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    assert list(doc["sections"]) == ["metrics"]
    sec = doc["sections"]["metrics"]
    assert sec["status"] == "ok", sec["reason"]
    assert set(sec["data"]["metrics"]) == {"kid", "precision", "recall", "density", "coverage", "mmd", "cms"}
    assert all(sec["data"]["metrics"][k]["floor"] is not None for k in ("kid", "recall"))
    assert doc["inputs"]["fake"]["n"] == 80 and "drop_class" in json.dumps(doc["inputs"]["fake"])
    soup = BeautifulSoup((out / "report.html").read_text(), "html.parser")
    assert soup.title.get_text() == "drop <car>"
    assert soup.select_one("section#sec-metrics figure img")["src"].startswith("data:image/png;base64,")
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["metrics-bars.png"]


def test_report_refuses_an_out_dir_inside_an_input_folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    result = subprocess.run(
        [sys.executable, "-c", "from genlens.cli import main; main()", "report", str(folder), str(folder),
         "--out", str(folder / "report"), "--features", "pixels"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "inside the input folder" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == [f"{i}.png" for i in range(8)]


@pytest.mark.slow
def test_quick_demo_leaves_an_index_linking_every_report(runner, tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--quick", "--n", "80", "--out", str(out)])
    assert result.exit_code == 0, result.output
    index = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    world, photos = index.select("table.index")  # the world's generators, then the real photographs'
    rows = world.select("tbody tr")
    names = [r.select_one("td strong").get_text() for r in rows]
    from genlens.demo.run import GENERATORS

    assert names[: len(GENERATORS)] == [name for name, _ in GENERATORS]
    for row in rows:
        link = row.select_one("a")["href"]
        report = out / link
        assert report.is_file(), link
        doc = json.loads((report.parent / "results.json").read_text())
        assert doc["sections"]["metrics"]["status"] == "ok", doc["sections"]["metrics"]["reason"]
        assert row.select_one("td.num").get_text().strip() not in ("", "—")  # FD shown
    # the planted defect is stated beside each generator
    assert "car" in rows[names.index("drop_class")].get_text()
    # the metrics see the planted defects: a dropped class and a collapse cost diversity (recall
    # falls below its floor), and both sit further from the floor than the clean generator
    def metrics_of(name):
        link = rows[names.index(name)].select_one("a")["href"]
        return json.loads((out / link).parent.joinpath("results.json").read_text())["sections"]["metrics"]["data"]["metrics"]

    clean = metrics_of("clean")
    for name in ("drop_class", "collapse"):
        m = metrics_of(name)
        gap = {k: m[k]["floor"] - m[k]["matched"] for k in ("precision", "recall")}
        assert gap["recall"] > gap["precision"], (name, gap)
        assert m["fid"]["matched"] - m["fid"]["floor"] > 3 * abs(clean["fid"]["matched"] - clean["fid"]["floor"]), name
    # reused real features: every report compares against the same real fingerprint and floor
    floors = {
        json.dumps(json.loads((out / r.select_one("a")["href"]).parent.joinpath("results.json").read_text())
                   ["sections"]["metrics"]["data"]["metrics"]["fid"]["floor"])
        for r in rows
    }
    assert len(floors) == 1
    models = json.loads((out / "models" / "results.json").read_text())["sections"]
    assert set(models) == {"reference-nets", "dcgan", "vae", "manifold"}
    for key in ("dcgan", "vae"):
        assert models[key]["status"] == "ok", models[key]["reason"]
        assert models[key]["figures"] and all((out / "models" / f).is_file() for f in models[key]["figures"])
    # the tracking experiment: six runs (five seeds and the lr blow-up) logged at every epoch, linked
    tracking = json.loads((out / "tracking" / "results.json").read_text())
    assert len(tracking["series"]) == 6 and any("lr-x30" in run for run in tracking["series"])
    assert all(len(per["regions/cms"]) == 5 for per in tracking["series"].values())  # quick: epochs 0..4
    assert any(m.startswith("atlas/") for m in tracking["series"]["seed-0"])
    assert index.select_one('a[href="tracking/report.html"]') is not None
    # the real photographs: every planted defect has a report, measured in a space learned from the real crops
    from genlens.zoo.photos import PHOTO_GENERATORS

    photo_rows = photos.select("tbody tr")
    assert [r.select_one("td strong").get_text() for r in photo_rows] == [name for name, _ in PHOTO_GENERATORS]
    for row in photo_rows:
        sections = json.loads((out / row.select_one("a")["href"]).parent.joinpath("results.json").read_text())["sections"]
        assert set(sections) == {"metrics", "regions", "critic"}
        assert sections["metrics"]["data"]["extractor"]["feature_space"] == "learned"
        assert sections["critic"]["status"] == "ok", sections["critic"]["reason"]
    assert not re_external(out / "index.html")


def re_external(path) -> list[str]:
    import re

    return re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", path.read_text(), flags=re.I)
