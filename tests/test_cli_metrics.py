"""``genlens metrics`` / ``genlens features`` end to end: help texts, the JSON schema, precomputed
features checked against peer libraries, --skip-bad, and one clear line with exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from genlens.cli import _register_commands, app

GENLENS = [sys.executable, "-c", "from genlens.cli import main; main()"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point (``main``: GenlensError -> one line, exit 2), in a subprocess."""
    return subprocess.run([*GENLENS, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register_commands()
    return CliRunner()


def _images(path: Path, n: int, seed: int, shift: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 60, size=(n, 3, 8, 8)).astype(np.int64) + shift
    np.save(path, np.clip(arr, 0, 255).astype(np.uint8))
    return path


def test_help_explains_every_option(runner):
    top = runner.invoke(app, ["--help"], terminal_width=200)
    assert top.exit_code == 0
    for command in ("metrics", "features", "report", "demo"):
        assert command in top.output
    for command in ("metrics", "features", "report", "demo"):
        result = runner.invoke(app, [command, "--help"], terminal_width=200)
        assert result.exit_code == 0, result.output
        cmd = next(c for c in app.registered_commands if c.name == command)
        import inspect

        for param in inspect.signature(cmd.callback).parameters.values():
            info = param.default
            assert getattr(info, "help", None), f"{command}: option {param.name} has no help text"
    metrics_help = runner.invoke(app, ["metrics", "--help"], terminal_width=200).output
    for option in ("--features", "--metrics", "--json", "--n-boot", "--skip-bad", "--device", "--floor"):
        assert option in metrics_help


def test_metrics_on_arrays_writes_the_json_schema(runner, tmp_path):
    real = _images(tmp_path / "real.npy", 40, seed=0)
    fake = _images(tmp_path / "fake.npy", 40, seed=1, shift=150)
    out = tmp_path / "m.json"
    result = runner.invoke(
        app,
        ["metrics", str(real), str(fake), "--features", "pixels", "--metrics", "fid,kid,prdc,mmd,cms",
         "--n-boot", "5", "--floor", "--json", str(out)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "precision" in result.output and "fid" in result.output  # the rich table
    doc = json.loads(out.read_text())
    assert set(doc) >= {"metrics", "inputs"}
    assert set(doc["metrics"]) == {"fid", "kid", "precision", "recall", "density", "coverage", "mmd", "cms"}
    for name, entry in doc["metrics"].items():
        assert isinstance(entry["value"], float), name
        lo, hi = entry["ci"]
        assert lo <= entry["value"] <= hi, name
        assert "floor" in entry
    inputs = doc["inputs"]
    assert inputs["real"]["n"] == 40 and inputs["fake"]["n"] == 40
    assert inputs["real"]["fingerprint"] != inputs["fake"]["fingerprint"]
    assert inputs["real"]["path"].endswith("real.npy")
    assert inputs["extractor"]["name"] == "pixels"
    assert inputs["preprocessing"] is not None
    # a brighter fake set is far from real; the real halves are not
    assert doc["metrics"]["fid"]["value"] > 5 * doc["metrics"]["fid"]["floor"]


def test_precomputed_features_agree_with_peer_libraries(runner, tmp_path):
    from prdc import compute_prdc
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(3)
    real = rng.normal(size=(120, 6))
    fake = rng.normal(size=(100, 6)) * 1.2 + 0.3
    np.save(tmp_path / "real.npy", real)
    np.savez(tmp_path / "fake.npz", features=fake)
    out = tmp_path / "m.json"
    result = runner.invoke(
        app,
        ["metrics", str(tmp_path / "real.npy"), str(tmp_path / "fake.npz"), "--features", "precomputed",
         "--metrics", "fid,prdc", "--n-boot", "0", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    peer_fid = calculate_frechet_distance(real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False))
    assert doc["metrics"]["fid"]["value"] == pytest.approx(peer_fid, rel=1e-6)
    peer = compute_prdc(real, fake, nearest_k=5)
    for name in ("precision", "recall", "density", "coverage"):
        assert doc["metrics"][name]["value"] == pytest.approx(peer[name], abs=1e-9)
        assert "ci" not in doc["metrics"][name]  # --n-boot 0
    assert doc["inputs"]["real"]["kind"] == "precomputed" and doc["inputs"]["fake"]["n"] == 100


def test_features_export_roundtrips_into_precomputed(runner, tmp_path):
    real = _images(tmp_path / "real.npy", 30, seed=0)
    fake = _images(tmp_path / "fake.npy", 30, seed=1)
    for name, src in (("r", real), ("f", fake)):
        result = runner.invoke(app, ["features", str(src), "--features", "pixels", "-o", str(tmp_path / f"{name}.npz")])
        assert result.exit_code == 0, result.output
    feats = np.load(tmp_path / "r.npz")["features"]
    assert feats.shape == (30, 3 * 8 * 8)
    np.testing.assert_allclose(feats, np.load(real).reshape(30, -1) / 255.0, atol=1e-6)
    direct, via = tmp_path / "direct.json", tmp_path / "via.json"
    args = ["--metrics", "fid,mmd", "--n-boot", "0", "--json"]
    assert runner.invoke(app, ["metrics", str(real), str(fake), "--features", "pixels", *args, str(direct)]).exit_code == 0
    assert runner.invoke(
        app, ["metrics", str(tmp_path / "r.npz"), str(tmp_path / "f.npz"), "--features", "precomputed", *args, str(via)]
    ).exit_code == 0
    a, b = json.loads(direct.read_text())["metrics"], json.loads(via.read_text())["metrics"]
    assert a["fid"]["value"] == pytest.approx(b["fid"]["value"], rel=1e-9)
    assert a["mmd"]["value"] == pytest.approx(b["mmd"]["value"], rel=1e-9)


def test_skip_bad_lists_skipped_files(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    fake = _images(tmp_path / "fake.npy", 12, seed=1)
    no_skip = run_cli("metrics", str(folder), str(fake), "--features", "pixels", "--metrics", "fid", "--n-boot", "0")
    assert no_skip.returncode == 2
    assert "broken.png" in no_skip.stderr and "--skip-bad" in no_skip.stderr
    assert "Traceback" not in no_skip.stderr
    ok = run_cli("metrics", str(folder), str(fake), "--features", "pixels", "--metrics", "fid", "--n-boot", "0", "--skip-bad")
    assert ok.returncode == 0, ok.stderr
    assert "skipped 1" in ok.stderr and "broken.png" in ok.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["metrics", "/definitely/missing", "/definitely/missing2", "--features", "pixels"], "/definitely/missing"),
        (["metrics", "{real}", "{real}", "--features", "pixels", "--metrics", "fid,bogus"], "bogus"),
        (["metrics", "{real}", "{feats}", "--features", "precomputed"], "dimension"),
        (["features", "{real}", "--features", "pixels", "-o", "{tmp}/x.txt"], ".npz"),
    ],
)
def test_bad_input_gives_one_clear_line_and_exit_2(tmp_path, args, needle):
    real = _images(tmp_path / "real.npy", 20, seed=0)
    feats = tmp_path / "feats.npy"
    np.save(feats, np.random.default_rng(0).normal(size=(20, 7)))
    if "precomputed" in args:
        np.save(real, np.random.default_rng(1).normal(size=(20, 5)))
    args = [a.format(real=real, feats=feats, tmp=tmp_path) for a in args]
    result = run_cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert needle in lines[0]
