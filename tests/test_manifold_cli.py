"""``genlens manifold`` end to end on a user factory with a checkpoint, and its error messages."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genlens.cli import _register_commands, app
from genlens.errors import ConfigError, InputError
from genlens.manifold import H0

FACTORY = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Decoder(nn.Module):
        latent_dim = 3

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 16, bias=False)

        def forward(self, z):
            return self.linear(z).view(-1, 1, 4, 4)

    def build():
        return Decoder()
    """
)

_register_commands()
runner = CliRunner()


@pytest.fixture
def factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, np.ndarray]:
    (tmp_path / "my_decoders.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    weight = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    ckpt = tmp_path / "decoder.pt"
    torch.save({"linear.weight": weight}, ckpt)
    return ckpt, weight.double().numpy()


def test_cli_writes_the_issue_schema_from_the_checkpoint_weights(tmp_path: Path, factory) -> None:
    ckpt, weight = factory
    out_json, out_dir = tmp_path / "res.json", tmp_path / "report"
    result = runner.invoke(app, ["manifold", "--decoder", "my_decoders:build", "--checkpoint", str(ckpt),
                                 "--latent-dim", "3", "--n", "12", "--json", str(out_json), "--out", str(out_dir)])
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text())
    for key in ("entropy", "order", "total_entropy", "total_correlation", "pairwise_mi", "inactive"):
        assert key in data
    norms = np.linalg.norm(weight, axis=0)
    np.testing.assert_allclose(data["entropy"], H0 + np.log(norms), atol=1e-6)  # the checkpoint's, not init
    cos = weight.T @ weight / np.outer(norms, norms)
    assert data["pairwise_mi"][0][2] == pytest.approx(-0.5 * math.log(1 - cos[0, 2] ** 2), abs=1e-6)
    assert data["order"] == list(np.argsort(-norms))
    assert data["inactive"] == []
    report = json.loads((out_dir / "results.json").read_text())
    section = report["sections"]["manifold"]
    assert section["status"] == "ok" and "3 of 3 latent dimensions are active" in section["summary"]
    assert (out_dir / "report.html").exists()
    assert any(p.name.endswith("entropy-spectrum.png") for p in (out_dir / "figures").iterdir())


def test_cli_accepts_a_file_path_factory(tmp_path: Path, factory) -> None:
    out_json = tmp_path / "res.json"
    result = runner.invoke(app, ["manifold", "--decoder", f"{tmp_path / 'my_decoders.py'}:build",
                                 "--n", "5", "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(out_json.read_text())["entropy"]) == 3  # latent_dim read from the decoder


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (["--decoder", "no_such_module_xyz:build", "--latent-dim", "2"], ConfigError, "cannot import"),
        (["--decoder", "my_decoders:missing", "--latent-dim", "3"], ConfigError, "no attribute 'missing'"),
        (["--decoder", "justaname", "--latent-dim", "3"], ConfigError, "pkg.module:factory"),
        (["--decoder", "zoo-vae?beta=2&depth=3"], ConfigError, "unknown option 'depth'"),
        (["--decoder", "my_decoders:build", "--latent-dim", "4"], ConfigError, "has 3 latents"),
        (["--decoder", "my_decoders:build", "--checkpoint", "/nonexistent.pt"], InputError, "no such checkpoint"),
    ],
)
def test_cli_errors_name_the_problem(factory, args: list[str], error: type, match: str) -> None:
    result = runner.invoke(app, ["manifold", *args, "--n", "4"])
    assert result.exit_code != 0
    assert isinstance(result.exception, error)
    assert match in str(result.exception)


def test_checkpoint_with_pickled_objects_is_refused(tmp_path: Path, factory) -> None:
    bad = tmp_path / "bad.pt"
    torch.save({"linear.weight": torch.zeros(16, 3), "note": Path("x")}, bad)  # not plain tensors
    result = runner.invoke(app, ["manifold", "--decoder", "my_decoders:build", "--checkpoint", str(bad), "--n", "4"])
    assert isinstance(result.exception, InputError)
    assert "weights-only" in str(result.exception)


def test_report_diagnostic_applies_only_with_a_decoder(tmp_path: Path, factory) -> None:
    from genlens.views import RunContext, get_view

    view = get_view("manifold")
    assert "no decoder" in view.applies(None, None, view.options())
    options = view.options({"decoder": "my_decoders:build", "checkpoint": str(factory[0]), "n": 8})
    assert view.applies(None, None, options) is None
    section = view.section(view.fit(None, options, RunContext()), None, RunContext())
    assert section.key == "manifold" and section.table is not None and len(section.table.rows) == 3
