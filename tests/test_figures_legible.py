"""Figures a reader can read: no overlapping labels in the regions and atlas figures, and the index and a
report rendered in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlens.views.section import Figure

CHROMIUM = Path("/usr/bin/chromium")


def overlapping_texts(fig) -> list[tuple[str, str]]:
    """Pairs of visible texts (tick labels, annotations, titles) whose boxes overlap in the drawn figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = []
    for ax in fig.axes:
        texts += [t for t in (*ax.get_xticklabels(), *ax.get_yticklabels()) if t.get_visible() and t.get_text()]
        texts += [t for t in ax.texts if t.get_visible() and t.get_text()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]


@pytest.fixture
def captured(monkeypatch):
    """Every matplotlib figure a view renders, checked for overlaps before it is closed."""
    problems: dict[str, list] = {}
    real_from = Figure.from_matplotlib.__func__

    def checking(cls, name, fig, caption="", dpi=110):
        problems[name] = overlapping_texts(fig)
        return real_from(cls, name, fig, caption, dpi)

    monkeypatch.setattr(Figure, "from_matplotlib", classmethod(checking))
    return problems


def test_the_checker_finds_a_planted_overlap():
    from genlens.plotting import pyplot

    fig, ax = pyplot().subplots(figsize=(1.2, 2))
    ax.set_xticks(range(3), ["image", "product", "x"], fontsize=16)  # long labels on a narrow axis
    ax.text(0.5, 0.5, "here"), ax.text(0.5, 0.5, "there")
    pairs = overlapping_texts(fig)
    assert ("image", "product") in pairs and ("here", "there") in pairs
    pyplot().close(fig)


@pytest.mark.slow
def test_regions_and_atlas_figures_have_no_overlapping_labels(captured, tmp_path):
    from genlens.views import RunContext, get_view
    from genlens.zoo import make_generator, real_source

    real = real_source(160, seed=0)
    fake = make_generator("blur_region", box=(20, 2, 30, 14), seed=3).as_source(160, seed=3)
    ctx = RunContext(out_dir=tmp_path)
    regions = get_view("regions")
    regions.section(regions.fit(real, regions.options(clusters=12, n_boot=20), ctx), fake, ctx)
    atlas = get_view("atlas")
    options = atlas.options(quick=True, method="pca", grids=(8, 16), positions=2, viewer=False)
    atlas.section(atlas.fit(real, options, ctx), fake, ctx)
    assert {"clusters", "cms", "deficit", "excess-js"} <= set(captured)
    assert {name: pairs for name, pairs in captured.items() if pairs} == {}


def test_cluster_ids_are_placed_inside_their_clusters_and_apart():
    import numpy as np

    from genlens.regions.figures import label_positions

    labels = np.zeros((32, 32), dtype=int)
    labels[:, 16:] = 1
    labels[10:14, 10:22] = 2  # a thin bar across both halves: its centroid sits on the boundary of 0 and 1
    spots = label_positions(labels, 3)
    for j, (y, x) in enumerate(spots):
        assert labels[int(y), int(x)] == j
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.hypot(spots[i][0] - spots[j][0], spots[i][1] - spots[j][1]) >= 3.2


@pytest.mark.browser
@pytest.mark.slow
def test_a_report_and_the_index_render_in_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (make test installs Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from typer.testing import CliRunner

    from genlens.cli import _register_commands, app

    _register_commands()
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--quick", "--n", "60", "--no-track", "--no-photos", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, path in (("index", out / "index.html"), ("report", out / "blur_region" / "report.html")):
            page.goto(path.as_uri())
            shot = tmp_path / f"{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
            badges = page.locator(".badge").all_inner_texts()
            assert badges and all(b.strip() for b in badges)
        browser.close()
