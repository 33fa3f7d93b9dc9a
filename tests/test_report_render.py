"""The HTML/JSON report: every section shown (failed ones with their reason), no external URL,
user strings escaped, results.json versioned, atomic and never inside an input folder."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from bs4 import BeautifulSoup
from PIL import Image

import genlens
from genlens.errors import InputError
from genlens.report import SCHEMA_VERSION, Figure, Section, Table, write_report

EVIL = "/tmp/x/<script>alert(1)</script>"


def _png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), color, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _sections() -> list[Section]:
    return [
        Section(
            key="metrics",
            title="Standard metrics",
            summary="FID 12.5 is far above the real-vs-real floor 1.2.",
            figures=(Figure("bars", _png((255, 0, 0)), caption="Metric <b>bars</b>"),),
            table=Table(columns=("metric", "value"), rows=(("fid", 12.5), ("kid", 0.0123456))),
            data={"fid": 12.5, "kid": 0.0123456, "note": "<img src=x onerror=alert(2)>"},
            notes=("covariance is singular at n=100 <d=128>",),
        ),
        Section.unavailable("regions", "Regions", "failed", "InputError: image sizes differ (32 vs 64)"),
        Section.unavailable("semantics", "Semantics", "skipped", "no segmenter for these inputs"),
        Section(key="manifold", title="Manifold", summary="", status="empty", reason="no decoder given"),
    ]


@pytest.fixture
def report(tmp_path):
    out = tmp_path / "out"
    html_path = write_report(
        _sections(), out, title="Test <report>", inputs={"real": {"kind": "FolderSource", "path": EVIL, "n": 10}}
    )
    return out, html_path, BeautifulSoup(html_path.read_text(encoding="utf-8"), "html.parser")


def test_every_section_present_with_status_and_reason(report):
    _, _, soup = report
    found = {s["data-key"]: s for s in soup.select("section.diag")}
    assert list(found) == ["metrics", "regions", "semantics", "manifold"]
    assert found["regions"]["data-status"] == "failed"
    assert "image sizes differ (32 vs 64)" in found["regions"].get_text()
    assert "no segmenter for these inputs" in found["semantics"].get_text()
    assert "no decoder given" in found["manifold"].get_text()
    # table of contents links to every section
    toc = [a["href"] for a in soup.select("nav.toc a")]
    assert toc == [f"#sec-{k}" for k in found]
    # the ok section carries its summary, figure, caption, table and raw numbers
    ok = found["metrics"]
    assert "far above the real-vs-real floor" in ok.get_text()
    assert len(ok.select("figure img")) == 1
    assert "Metric <b>bars</b>" in ok.select_one("figcaption").get_text()  # escaped, shown literally
    assert [td.get_text() for td in ok.select("table.data tbody td")] == ["fid", "12.5", "kid", "0.01235"]
    assert json.loads(ok.select_one("details pre").get_text())["kid"] == 0.0123456
    assert [li.get_text() for li in ok.select("ul.notes li")] == ["covariance is singular at n=100 <d=128>"]


def test_no_external_url_anywhere(report):
    _, html_path, soup = report
    text = html_path.read_text(encoding="utf-8")
    assert soup.find("link") is None
    assert all(not s.get("src") for s in soup.find_all("script"))
    for tag in soup.find_all(True):
        for attr in ("src", "href", "action", "srcset", "poster", "data"):
            value = tag.get(attr)
            if value:
                assert not re.match(r"\s*(https?:)?//", value, re.I), (tag.name, attr, value)
                assert value.startswith(("data:image/png;base64,", "#")), (tag.name, attr, value)
    for url in re.findall(r"url\(([^)]*)\)", text):
        assert not re.search(r"https?:|//", url)
    assert not re.search(r"@import", text)


def test_user_strings_are_escaped(report):
    _, html_path, soup = report
    text = html_path.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert soup.find("script") is None  # nothing executable at all
    assert EVIL in soup.get_text()  # the path is shown, literally
    assert "<img src=x" not in text and soup.select("img[onerror]") == []
    assert soup.title.get_text() == "Test <report>"


def test_results_json_is_versioned_and_complete(report):
    out, _, _ = report
    doc = json.loads((out / "results.json").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["genlens_version"] == genlens.__version__
    assert doc["inputs"]["real"]["path"] == EVIL
    assert list(doc["sections"]) == ["metrics", "regions", "semantics", "manifold"]
    for entry in doc["sections"].values():
        assert {"data", "status", "reason", "summary"} <= set(entry)
    assert doc["sections"]["regions"]["status"] == "failed"
    assert doc["sections"]["metrics"]["notes"] == ["covariance is singular at n=100 <d=128>"]
    assert doc["sections"]["metrics"]["data"]["fid"] == 12.5
    fig = doc["sections"]["metrics"]["figures"][0]
    assert fig == "figures/metrics-bars.png"
    assert (out / fig).read_bytes() == _png((255, 0, 0))


def test_non_finite_numbers_never_become_nan_in_json(tmp_path):
    sec = Section(key="m", title="M", summary="s", data={"x": float("nan"), "y": np.float32(np.inf), "z": np.arange(3)})
    write_report([sec], tmp_path / "o")
    text = (tmp_path / "o" / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["sections"]["m"]["data"] == {"x": None, "y": None, "z": [0, 1, 2]}


def test_duplicate_keys_and_odd_names_stay_distinct(tmp_path):
    secs = [
        Section(key="a b/../c", title="one", summary="", figures=(Figure("../../evil", _png((0, 0, 0))),)),
        Section(key="a b/../c", title="two", summary=""),
    ]
    write_report(secs, tmp_path / "o")
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert len(doc["sections"]) == 2
    written = sorted(p.name for p in (tmp_path / "o" / "figures").iterdir())
    assert len(written) == 1 and "/" not in written[0]
    assert not (tmp_path / "evil.png").exists()


def test_refuses_out_dir_inside_an_input_folder(tmp_path):
    data = tmp_path / "images"
    data.mkdir()
    (data / "a.png").write_bytes(_png((1, 2, 3)))
    with pytest.raises(InputError, match="inside the input folder"):
        write_report(_sections(), data / "report", inputs={"real": {"path": str(data)}})
    with pytest.raises(InputError, match="inside the input folder"):
        write_report(_sections(), data, protect=[data])
    assert sorted(p.name for p in data.iterdir()) == ["a.png"]
    with pytest.raises(InputError, match="is a file"):
        write_report(_sections(), data / "a.png")
    # an input *file*'s folder is not protected as a whole: only the file itself
    write_report(_sections(), tmp_path / "rep", inputs={"real": {"path": str(data / "a.png")}})


def test_rewrite_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "o"
    write_report(_sections(), out)
    write_report(_sections()[:1], out)
    names = sorted(p.name for p in out.rglob("*"))
    assert not [n for n in names if n.endswith(".tmp")]
    assert json.loads((out / "results.json").read_text())["sections"].keys() == {"metrics"}
