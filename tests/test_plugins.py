"""The one plugin loader: GENLENS_PLUGINS modules register into the ordinary registries, ``load_attr``
and ``parse_spec`` errors name the spec, and no view package imports the zoo (it is a plugin)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
import torch

import genlens
from genlens import plugins
from genlens.errors import ConfigError, InputError
from genlens.features import get_extractor

PLUGIN = textwrap.dedent(
    """
    from genlens.features import register_extractor
    from genlens.features.simple import PixelExtractor

    def build(device=None, image_size=None, **kwargs):
        extractor = PixelExtractor(device=device)
        extractor.seen_image_size = image_size
        return extractor

    register_extractor("test-plugin-pixels", build)
    """
)
#: Packages that must reach the zoo only through the registries.
NO_ZOO = ("io", "features", "metrics", "regions", "semantics", "manifold", "atlas", "views", "report", "track")


def test_plugin_named_in_the_environment_registers_an_extractor(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "genlens_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GENLENS_PLUGINS", "genlens_test_plugin")
    monkeypatch.setattr(plugins, "_loaded", set(plugins._loaded))  # forget this plugin after the test
    monkeypatch.setattr(plugins, "_loaded_for", plugins._loaded_for)
    extractor = get_extractor("test-plugin-pixels", device="cpu", image_size=(8, 8))
    assert extractor.seen_image_size == (8, 8)  # the factory asked for the size hint, so it got it
    assert extractor(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))[extractor.outputs[0]].shape == (1, 192)
    with pytest.raises(ConfigError, match="test-plugin-pixels"):  # error messages list registered names
        get_extractor("no-such-extractor")


def test_builtin_plugin_registers_the_zoo_without_an_import() -> None:
    from genlens.features.registry import extractor_names
    from genlens.semantics.registry import _SEGMENTERS

    assert "zoo-classifier" in extractor_names() and {"zoo", "zoo-quick"} <= set(_SEGMENTERS.names())


def test_load_attr_errors_are_config_errors_naming_the_spec(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'no_such_module_xyz:build'.*cannot import"):
        plugins.load_attr("no_such_module_xyz:build", "decoder")
    with pytest.raises(ConfigError, match="'genlens.errors:Missing'.*no attribute 'Missing'"):
        plugins.load_attr("genlens.errors:Missing")
    with pytest.raises(ConfigError, match="'justaname'"):
        plugins.load_attr("justaname")
    with pytest.raises(InputError, match="no such Python file"):
        plugins.load_attr(f"{tmp_path / 'missing.py'}:build")
    (tmp_path / "user_code.py").write_text("VALUE = 7\n")
    assert plugins.load_attr(f"{tmp_path / 'user_code.py'}:VALUE") == 7
    assert plugins.load_attr("genlens.errors:ConfigError") is ConfigError


def test_parse_spec_converts_and_rejects() -> None:
    options = {"beta": float, "quick": plugins.as_bool, "box": str}
    assert plugins.parse_spec("zoo-vae?beta=4&quick=yes&box=1,2") == ("zoo-vae", {"beta": "4", "quick": "yes",
                                                                                 "box": "1,2"})
    assert plugins.parse_spec("zoo-vae?beta=4&quick=1", options) == ("zoo-vae", {"beta": 4.0, "quick": True})
    assert plugins.parse_spec("zoo-dcgan", options) == ("zoo-dcgan", {})
    for spec, match in [("zoo-vae?depth=3", "unknown option 'depth'; valid: beta, quick, box"),
                        ("zoo-vae?beta=big", "beta='big' is not valid"),
                        ("zoo-vae?quick=maybe", "quick='maybe' is not valid"),
                        ("zoo-vae?beta=1&beta=2", "given twice"),
                        ("zoo-vae?beta", "key=value")]:
        with pytest.raises(ConfigError, match=match) as err:
            plugins.parse_spec(spec, options)
        assert spec in str(err.value)


def test_registered_zoo_entries_take_the_one_spec_grammar() -> None:
    from genlens.manifold.decoders import load_decoder
    from genlens.semantics.generators import load_generator

    with pytest.raises(ConfigError, match="unknown option 'depth'"):
        load_decoder("zoo-vae?beta=2&depth=3")
    with pytest.raises(ConfigError, match=r"zoo-vae\?key=value"):
        load_decoder("zoo-vae:beta=2")  # the old grammar is gone; the message shows the new one
    with pytest.raises(ConfigError, match="checkpoint"):
        load_decoder("zoo-vae?beta=2", checkpoint="x.pt")
    with pytest.raises(ConfigError, match="epoch='last' is not valid"):
        load_generator("zoo-dcgan?epoch=last")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute or relative (resolved against its package)."""
    package = ".".join(path.relative_to(Path(genlens.__file__).parent.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("package", NO_ZOO)
def test_view_packages_do_not_import_the_zoo(package: str) -> None:
    root = Path(genlens.__file__).parent / package
    offenders = {str(path.relative_to(root.parent)): sorted(n for n in _imports(path) if n == "genlens.zoo"
                                                             or n.startswith("genlens.zoo."))
                 for path in sorted(root.rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}
