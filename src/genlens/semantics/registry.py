"""Segmenters by name, for the CLI and the report.

Names:
- ``zoo`` / ``zoo-quick``: the small segmenter trained on the zoo world (``size`` option, default 32).
- ``torchvision:<arch>`` (``deeplabv3_resnet50``, ``fcn_resnet50``, ...; shortcuts ``deeplabv3``, ``fcn``):
  21 Pascal VOC classes, weights through :mod:`genlens.features.weights` (``weights=`` a file path also works).
- ``hf:<model id or local folder>``: a Hugging Face ``transformers`` semantic-segmentation model whose
  files are already on disk (e.g. an ADE20K SegFormer, 150 classes); needs ``pip install 'genlens[hf]'``.
- ``pkg.module:factory``: ``factory(**options)`` returns a segmenter, or a ``(callable, class_names)`` pair.
"""

from __future__ import annotations

import importlib
from typing import Any

from genlens.errors import ConfigError
from genlens.semantics.segmenter import Segmenter, as_segmenter

_SHORTCUTS = {"deeplabv3": "torchvision:deeplabv3_resnet50", "fcn": "torchvision:fcn_resnet50"}


def get_segmenter(name: str, device: str | None = None, **options: Any) -> Segmenter:
    """Build the segmenter called ``name`` (see the module docstring), on ``device`` when it has one."""
    name = _SHORTCUTS.get(name, name)
    if name in ("zoo", "zoo-quick"):
        return zoo_segmenter(quick=name == "zoo-quick", device=device, **options)
    if name.startswith("torchvision:"):
        from genlens.semantics.torchvision_adapter import TorchvisionSegmenter

        return TorchvisionSegmenter(name.split(":", 1)[1], device=device, **options)
    if name.startswith("hf:"):
        from genlens.semantics.hf_adapter import HFSegmenter

        return HFSegmenter(name.split(":", 1)[1], device=device, **options)
    if ":" in name:
        return load_factory_segmenter(name, **options)
    raise ConfigError(
        f"unknown segmenter {name!r}; use zoo, zoo-quick, torchvision:<arch> (e.g. deeplabv3, fcn), "
        "hf:<model folder>, or pkg.module:factory"
    )


def zoo_segmenter(quick: bool = False, size: int = 32, device: str | None = None, **options: Any) -> Segmenter:
    """The world's segmenter from :mod:`genlens.zoo.models` (trained on first use, then cached)."""
    try:
        from genlens.zoo import models
    except ImportError as err:  # pragma: no cover - depends on the zoo being installed
        raise ConfigError(f"the zoo segmenter is unavailable: {err}") from err
    return models.segmenter(size=int(size), quick=bool(quick), device=device, **options)


def load_factory(spec: str) -> Any:
    """Import ``pkg.module:attr`` and return the attribute, with a clear error when it is not there."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{spec!r} is not of the form pkg.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"cannot import module {module_name!r} of {spec!r}: {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r} (from {spec!r})") from err


def load_factory_segmenter(spec: str, **options: Any) -> Segmenter:
    """Call the factory ``pkg.module:factory`` and accept what it returns as a segmenter."""
    factory = load_factory(spec)
    if callable(factory) and hasattr(factory, "classes"):  # the attribute is itself a segmenter
        return factory
    if not callable(factory):
        raise ConfigError(f"{spec!r} is not callable")
    made = factory(**options)
    return as_segmenter(made, name=spec)
