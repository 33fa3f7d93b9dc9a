"""The view protocol: a fifth view in one folder plus one registration line reaches the report, the CLI
(with flags from its Options) and tracking events, and the layers import only downwards."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genlens"

TOY_VIEW = '''
"""A toy view: how far the generated images' mean intensity is from the real images'."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from genlens.statistics import bootstrap_se
from genlens.views import Measurement, Measurements, Section, View
from genlens.views.options import option


@dataclass(frozen=True)
class ToyOptions:
    scale: float = option(1.0, "Multiply the gap by this much.", min=0.0)
    max_images: int = option(500, "Use at most this many images.", flag="--n", min=1)


class Gap:
    def __init__(self, value, real_mean):
        self.value, self.real_mean = value, real_mean

    def to_section(self):
        return Section("toy", "Toy: mean intensity", f"mean intensity gap {self.value:.3f}",
                       data={"gap": self.value, "real_mean": self.real_mean})


class MeanIntensityView(View):
    key = "toy"
    title = "Toy: mean intensity"
    Options = ToyOptions
    tracks = True

    def fit(self, real, options, ctx):
        images = real.read(0, min(len(real), options.max_images)).float().numpy()
        return {"options": options, "mean": float(images.mean())}

    def compare(self, reference, fake, ctx):
        images = fake.read(0, min(len(fake), reference["options"].max_images)).float().numpy()
        return Gap(reference["options"].scale * abs(float(images.mean()) - reference["mean"]), reference["mean"])

    def measure(self, reference, images, ctx, n_boot=20):
        means = images.float().mean(dim=(1, 2, 3)).numpy()
        gap = lambda rows: reference["options"].scale * abs(float(means[rows].mean()) - reference["mean"])
        return Measurements({"toy/gap": Measurement(gap(np.arange(len(means))),
                                                    bootstrap_se(gap, len(means), n_boot, ctx.seed), False)})

    def save_reference(self, reference, folder):
        (folder / "toy.json").write_text(json.dumps({"options": asdict(reference["options"]), "mean": reference["mean"]}))

    def load_reference(self, folder, ctx):
        data = json.loads((folder / "toy.json").read_text())
        return {"options": ToyOptions(**data["options"]), "mean": data["mean"]}
'''

REGISTRATION = 'from genlens.views import register_view\nregister_view("toyview.view:MeanIntensityView")\n'


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """The toy view as a plugin package: one folder, and one registration line in its __init__."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "toyview").mkdir()
    (root / "toyview" / "view.py").write_text(TOY_VIEW)
    (root / "toyview" / "__init__.py").write_text(REGISTRATION)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
           "GENLENS_PLUGINS": "toyview"}
    return env


def _genlens(env, *args, timeout=600):
    proc = subprocess.run([sys.executable, "-m", "genlens", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_a_plugin_view_appears_in_the_report(plugin, tmp_path):
    _genlens(plugin, "report", "zoo:real?n=40", "zoo:clean?n=40", "--out", tmp_path / "r", "--only", "toy,metrics",
             "--set", "toy.scale=2")
    sections = json.loads((tmp_path / "r" / "results.json").read_text())["sections"]
    assert list(sections) == ["metrics", "toy"]
    assert sections["toy"]["status"] == "ok" and sections["toy"]["data"]["gap"] >= 0


def test_a_plugin_view_gets_its_own_command_with_flags_from_its_options(plugin, tmp_path):
    helptext = _genlens(plugin, "toy", "--help").stdout
    assert "--scale" in helptext and "Multiply the gap by this much." in helptext and "--n" in helptext
    plain = _genlens(plugin, "toy", "zoo:real?n=40", "zoo:clean?n=40&seed=3", "--json", tmp_path / "a.json")
    doubled = _genlens(plugin, "toy", "zoo:real?n=40", "zoo:clean?n=40&seed=3", "--scale", "2", "--json",
                       tmp_path / "b.json")
    a, b = (json.loads((tmp_path / f"{x}.json").read_text())["gap"] for x in "ab")
    assert b == pytest.approx(2 * a) and "mean intensity gap" in plain.stdout + doubled.stdout
    bad = subprocess.run([sys.executable, "-m", "genlens", "toy", "zoo:real?n=40", "zoo:clean?n=40", "--scale", "-1"],
                         capture_output=True, text=True, env=plugin, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_plugin_view_is_tracked_and_its_break_is_an_event(plugin, tmp_path):
    from genlens.zoo import make_generator

    runs = tmp_path / "runs" / "run-a"
    runs.mkdir(parents=True)
    clean = make_generator("clean", seed=3)
    for step in range(9):
        images = clean.sample(60, seed=100 + step).images.astype(np.int16)
        if step >= 6:  # the generator's images brighten at step 6
            images = images + 60
        np.save(runs / f"step_{step}.npy", np.clip(images, 0, 255).astype(np.uint8))
    _genlens(plugin, "track", "--real", "zoo:real?n=60", "--runs", tmp_path / "runs", "--out", tmp_path / "t",
             "-d", "toy")
    doc = json.loads((tmp_path / "t" / "results.json").read_text())
    events = [(e["step"], e["metric"]) for e in doc["events"]]
    assert events == [(6, "toy/gap")], doc["events"]


#: Layers from the bottom up; a package may import its own layer and those below, never above.
LAYERS = {"io": 0, "features": 1, "metrics": 2, "regions": 2, "semantics": 2, "manifold": 2, "atlas": 2, "critic": 2,
          "views": 2,
          "report": 3, "track": 3, "cli": 4, "demo": 4}
CORE = ("io", "features", "metrics", "regions", "semantics", "manifold", "atlas", "critic", "views")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("genlens")}


def test_imports_flow_one_way_and_nothing_imports_the_zoo():
    wrong = []
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).parts
        package = parts[0] if len(parts) > 1 else None
        for name in _imports(path):
            target = name.split(".")[1] if name.count(".") else None
            if package in CORE and target in ("report", "track", "cli", "demo", "api"):
                wrong.append(f"{path.relative_to(SRC)} imports {name}")
            if target == "zoo" and package not in ("zoo", "demo", "cli") and package is not None:
                wrong.append(f"{path.relative_to(SRC)} imports {name} (the zoo registers itself instead)")
            if package in LAYERS and target in LAYERS and LAYERS[target] > LAYERS[package]:
                wrong.append(f"{path.relative_to(SRC)} imports {name} from a higher layer")
    assert not wrong, "\n".join(sorted(wrong))
