"""``genlens report``'s runner: every registered view appears -- applied, skipped with its reason, or
failed with the error -- each view is fitted once per real set, the report is refused before any
work when --out is inside an input, and the false-alarm budget is split over the views that apply."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from genlens.errors import ConfigError, InputError
from genlens.io.base import ImageSource
from genlens.report.runner import Runner, build_report
from genlens.views import Finding, RunContext, Section, View, registry
from genlens.views.options import option


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


@dataclass(frozen=True)
class NoOptions:
    scale: float = option(1.0, "A setting.")


def _view(key: str, applies=None, fit=None, section=None) -> View:
    calls = []

    class Made(View):
        Options = NoOptions
        title = key.title()

        def applies(self, real, fake, options):
            return applies(real, fake) if applies else None

        def fit(self, real, options, ctx):
            calls.append("fit")
            return fit(real) if fit else len(real)

        def section(self, reference, fake, ctx):
            calls.append("section")
            return section(reference, fake) if section else Section(key, key.title(), f"{reference} real vs {len(fake)} fake")

    Made.key = key
    view = Made()
    view.calls = calls
    return view


def _boom(*_):
    raise RuntimeError("kaboom")


@pytest.fixture
def fake_registry(monkeypatch):
    made = [
        _view("good"),
        _view("skip", applies=lambda real, fake: "needs a decoder", fit=_boom),
        _view("crash", section=_boom),
        _view("input", section=lambda *_: (_ for _ in ()).throw(InputError("feature dimension mismatch: 3 vs 4"))),
        _view("none", section=lambda *_: None),
        _view("unfit", fit=_boom),
    ]
    monkeypatch.setattr(registry, "_registered", {v.key: v for v in made})
    monkeypatch.setattr(registry, "_builtin_keys", [v.key for v in made])
    return {v.key: v for v in made}


def test_every_view_becomes_a_section_and_is_fitted_once(fake_registry, tmp_path):
    runner = Runner(TinySource(5))
    for fake in (TinySource(3), TinySource(4)):
        sections = {s.key: s for s in runner.sections(fake)}
    assert list(sections) == ["good", "skip", "crash", "input", "none", "unfit"]
    assert sections["good"].status == "ok" and sections["good"].summary == "5 real vs 4 fake"
    assert sections["skip"].status == "skipped" and sections["skip"].reason == "needs a decoder"
    assert sections["crash"].status == "failed" and "RuntimeError: kaboom" in sections["crash"].reason
    assert sections["input"].status == "failed" and "dimension mismatch" in sections["input"].reason
    assert sections["none"].status == "failed" and "not a Section" in sections["none"].reason
    assert sections["unfit"].status == "failed" and "kaboom" in sections["unfit"].reason
    assert fake_registry["good"].calls == ["fit", "section", "section"]  # one fit for two generated sets
    assert fake_registry["skip"].calls == []  # a view that does not apply is never run
    assert fake_registry["unfit"].calls == ["fit"]  # a failed fit is reported, not retried


def test_build_report_writes_the_chosen_sections(fake_registry, tmp_path):
    html = build_report(TinySource(5), TinySource(3), tmp_path / "r", only=["good", "crash"])
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    assert list(doc["sections"]) == ["good", "crash"]
    assert doc["inputs"]["real"]["fingerprint"] == "tiny5"
    assert "kaboom" in html.read_text()


def test_unknown_views_and_options_are_refused_before_any_work(fake_registry):
    with pytest.raises(ConfigError, match="unknown view"):
        Runner(TinySource(5), options={"atlass": {}})
    with pytest.raises(ConfigError, match="unknown option.*scale"):
        Runner(TinySource(5), options={"good": {"sclae": 2.0}})
    assert Runner(TinySource(5), options={"good": {"scale": 2.0}}).options["good"].scale == 2.0
    assert fake_registry["good"].calls == []


def test_build_report_refuses_before_running(fake_registry, tmp_path):
    with pytest.raises(InputError, match="inside the input folder"):
        build_report(TinySource(5, path=str(tmp_path)), TinySource(3), tmp_path / "r")
    assert all(v.calls == [] for v in fake_registry.values())
    assert not (tmp_path / "r").exists()


def _judging_view(key: str, p: float, applies: str | None = None) -> View:
    """A view with one family and one test of p-value ``p``, significant against the share it gets."""

    class Judging(View):
        Options = NoOptions
        families: ClassVar[tuple[str, ...]] = (f"{key}/tests",)

        def applies(self, real, fake, options):
            return applies

        def fit(self, real, options, ctx):
            return None

        def section(self, reference, fake, ctx):
            finding = Finding(key, "global", {}, 1.0, p <= ctx.alpha, f"{key} test", test="a test", p=p,
                              family=f"{key}/tests", p_family=p, alpha=ctx.alpha)
            return Section(key, key, "judged", findings=(finding,))

    Judging.key, Judging.title = key, key
    return Judging()


@pytest.fixture
def judging(monkeypatch):
    made = [_judging_view("a", 0.002), _judging_view("b", 0.005), _judging_view("c", 0.0, applies="not here"),
            _judging_view("d", 0.2)]
    monkeypatch.setattr(registry, "_registered", {v.key: v for v in made})
    monkeypatch.setattr(registry, "_builtin_keys", [v.key for v in made])


def test_the_runner_splits_alpha_over_the_views_that_apply(judging):
    runner = Runner(TinySource(5))
    assert runner.shares(TinySource(3)) == pytest.approx({"a": 0.01 / 3, "b": 0.01 / 3, "d": 0.01 / 3})
    sections = {s.key: s for s in runner.sections(TinySource(3))}
    assert sections["a"].findings[0].significant and sections["a"].findings[0].alpha == pytest.approx(0.01 / 3)
    assert not sections["b"].findings[0].significant  # 0.005 > 0.01/3: within one view's whole alpha, not its share
    assert sections["c"].status == "skipped"


def test_results_json_states_the_budget_and_each_findings_family(judging, tmp_path):
    build_report(TinySource(5), TinySource(3), tmp_path / "r", ctx=RunContext(alpha=0.03))
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    assert doc["budget"]["alpha"] == 0.03 and "Holm" in doc["budget"]["procedure"]
    finding = next(f for f in doc["findings"] if f["view"] == "a")
    assert finding["family"] == "a/tests" and finding["alpha"] == pytest.approx(0.01) and finding["significant"]
    assert finding["test"] == "a test" and finding["p"] == pytest.approx(0.002)
