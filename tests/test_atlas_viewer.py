"""The viewer page: self-contained, safe against hostile names, and working in a real headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from genlens.atlas.analysis import analyze_atlas
from genlens.atlas.layout import LayoutConfig
from genlens.atlas.model import AtlasModel
from genlens.atlas.viewer import embed_json, write_viewer
from genlens.zoo import make_generator, real_source

HOSTILE = '</script><b id="pwned">x'
CHROMIUM = Path("/usr/bin/chromium")


def _model() -> AtlasModel:
    torch.manual_seed(0)
    net = nn.Sequential()
    net.add_module("conv", nn.Conv2d(3, 8, 3, padding=1))
    net.add_module(HOSTILE, nn.Sequential(nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1)))
    net.add_module("head", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)))
    return AtlasModel(net.eval(), "custom", (32, 32), lambda x: x, (HOSTILE,), ("a&b", "<i>c</i>", "d"))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    real, fake = real_source(80, seed=0), make_generator("drop_class", seed=1, name="car").as_source(80)
    result = analyze_atlas(real, fake, _model(), grids=(6, 12), positions=2, splits=2,
                           layout=LayoutConfig(method="pca"))
    path = tmp_path_factory.mktemp("viewer") / "atlas.html"
    write_viewer(result, real, fake, path)
    return path, result


def test_embedded_json_cannot_break_out_of_its_script_block():
    text = embed_json({"name": HOSTILE, "x": "a&b"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": HOSTILE, "x": "a&b"}


def test_page_is_self_contained_and_escapes_names(page):
    path, _ = page
    html = path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the page must not load anything external"
    assert html.count("</script>") == 2  # the data block and the code block, nothing injected
    assert '<b id="pwned">' not in html


@pytest.mark.browser
def test_viewer_in_headless_chromium(page, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (make test installs Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api")
    path, result = page
    grid = result.layers[0].grids[0]
    cell = int(max(range(len(grid.counts_real)), key=lambda c: grid.counts_real[c] + grid.counts_fake[c]))
    row, col, g = cell // grid.grid, cell % grid.grid, grid.grid
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 700})
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(path.as_uri())
            tab.wait_for_load_state("load")
            assert tab.locator("#layer option").first.inner_text() == HOSTILE
            assert tab.locator("#pwned").count() == 0
            box = tab.locator("#real").bounding_box()
            tab.mouse.move(box["x"] + (col + 0.5) * box["width"] / g, box["y"] + (row + 0.5) * box["height"] / g)
            tooltip = tab.locator("#tooltip")
            tooltip.wait_for(state="visible", timeout=5000)
            counts = tooltip.locator(".counts").inner_text()
            tab.screenshot(path=str(tmp_path / "viewer.png"))
        finally:
            browser.close()
    assert counts == f"real {int(grid.counts_real[cell])} \u00b7 generated {int(grid.counts_fake[cell])}"
    assert errors == []
    assert (tmp_path / "viewer.png").stat().st_size > 1000
