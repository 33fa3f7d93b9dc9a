"""``genlens report``'s runner: every registered diagnostic appears -- applied, skipped with its reason,
or failed with the error -- and the report is refused before any work when --out is inside an input."""

from __future__ import annotations

import json
import sys
import types

import pytest
import torch

from genlens.errors import InputError
from genlens.io.base import ImageSource
from genlens.report import Section, diagnostics
from genlens.report.diagnostics import ReportContext
from genlens.report.runner import build_report, run_diagnostics


class TinySource(ImageSource):
    def __init__(self, n: int, path: str | None = None) -> None:
        self.n, self.path = n, path

    def __len__(self) -> int:
        return self.n

    @property
    def image_size(self) -> tuple[int, int]:
        return (4, 4)

    def read(self, start: int, stop: int) -> torch.Tensor:
        return torch.zeros(stop - start, 3, 4, 4, dtype=torch.uint8)

    def fingerprint(self) -> str:
        return f"tiny{self.n}"

    def describe(self) -> dict:
        d = super().describe()
        if self.path:
            d["path"] = self.path
        return d


def _module(name: str, key: str, applies, run) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.KEY, mod.TITLE, mod.applies, mod.run = key, key.title(), applies, run
    return mod


@pytest.fixture
def fake_registry(monkeypatch, tmp_path):
    calls = []

    def ok_run(ctx):
        calls.append("ok")
        return Section(key="good", title="Good", summary=f"{len(ctx.real)} real vs {len(ctx.fake)} fake")

    def boom(ctx):
        calls.append("boom")
        raise RuntimeError("kaboom")

    def bad_input(ctx):
        raise InputError("feature dimension mismatch: 3 vs 4")

    mods = {
        "fakediag.good.diagnostic": _module("fakediag.good.diagnostic", "good", lambda ctx: None, ok_run),
        "fakediag.skip.diagnostic": _module("fakediag.skip.diagnostic", "skip", lambda ctx: "needs a decoder", boom),
        "fakediag.crash.diagnostic": _module("fakediag.crash.diagnostic", "crash", lambda ctx: None, boom),
        "fakediag.input.diagnostic": _module("fakediag.input.diagnostic", "input", lambda ctx: None, bad_input),
        "fakediag.none.diagnostic": _module("fakediag.none.diagnostic", "none", lambda ctx: None, lambda ctx: None),
    }
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.delitem(sys.modules, "fakediag_pkg.broken", raising=False)
    pkg = tmp_path / "fakediag_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "broken.py").write_text("raise ValueError('half-written module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        diagnostics,
        "DIAGNOSTIC_MODULES",
        (*mods, "fakediag_pkg.broken", "fakediag_pkg.not_built_yet"),  # the latter is skipped silently
    )
    return calls


def test_every_diagnostic_becomes_a_section(fake_registry, tmp_path):
    ctx = ReportContext(real=TinySource(5), fake=TinySource(3), out_dir=tmp_path / "r")
    sections = {s.key: s for s in run_diagnostics(ctx)}
    assert list(sections) == ["good", "skip", "crash", "input", "none", "broken"]
    assert sections["good"].status == "ok" and sections["good"].summary == "5 real vs 3 fake"
    assert sections["skip"].status == "skipped" and sections["skip"].reason == "needs a decoder"
    assert sections["crash"].status == "failed" and "RuntimeError: kaboom" in sections["crash"].reason
    assert sections["input"].status == "failed" and "dimension mismatch" in sections["input"].reason
    assert sections["none"].status == "failed" and "not a Section" in sections["none"].reason
    assert sections["broken"].status == "failed" and "could not import" in sections["broken"].reason
    assert fake_registry == ["ok", "boom"]  # a skipped diagnostic is never run


def test_build_report_writes_all_sections(fake_registry, tmp_path):
    ctx = ReportContext(real=TinySource(5), fake=TinySource(3), out_dir=tmp_path / "r")
    html = build_report(ctx, only=["good", "crash"])
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    assert list(doc["sections"]) == ["good", "crash"]
    assert doc["inputs"]["real"]["fingerprint"] == "tiny5"
    assert "kaboom" in html.read_text()


def test_build_report_refuses_before_running(fake_registry, tmp_path):
    ctx = ReportContext(real=TinySource(5, path=str(tmp_path)), fake=TinySource(3), out_dir=tmp_path / "r")
    with pytest.raises(InputError, match="inside the input folder"):
        build_report(ctx)
    assert fake_registry == []
    assert not (tmp_path / "r").exists()
