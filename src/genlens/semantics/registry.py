"""Segmenters by name, for the CLI and the report.

Names:
- registered names (:func:`register_segmenter`): the zoo registers ``zoo`` / ``zoo-quick``, the small
  segmenter trained on its world (per image size, ``size`` option).
- ``torchvision:<arch>`` (``deeplabv3_resnet50``, ``fcn_resnet50``, ...; shortcuts ``deeplabv3``, ``fcn``):
  21 Pascal VOC classes, weights through :mod:`genlens.features.weights` (``weights=`` a file path also works).
- ``hf:<model id or local folder>``: a Hugging Face ``transformers`` semantic-segmentation model whose
  files are already on disk (e.g. an ADE20K SegFormer, 150 classes); needs ``pip install 'genlens[hf]'``.
- ``pkg.module:factory``: ``factory(**options)`` returns a segmenter, or a ``(callable, class_names)`` pair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genlens.errors import ConfigError
from genlens.plugins import Registry, load_attr
from genlens.semantics.segmenter import Segmenter, as_segmenter

_SHORTCUTS = {"deeplabv3": "torchvision:deeplabv3_resnet50", "fcn": "torchvision:fcn_resnet50"}
_SEGMENTERS = Registry("segmenter")


def register_segmenter(name: str, factory: Callable[..., Segmenter]) -> None:
    """Make ``get_segmenter(name, ...)`` call ``factory(device=, image_size=, cache_dir=, **options)``."""
    _SEGMENTERS.register(name, factory)


def get_segmenter(name: str, device: str | None = None, image_size: tuple[int, int] | None = None,
                  cache_dir: Any = None, **options: Any) -> Segmenter:
    """Build the segmenter called ``name`` (see the module docstring), on ``device`` when it has one.

    ``image_size`` and ``cache_dir`` are hints for registered segmenters trained per image size."""
    name = _SHORTCUTS.get(name, name)
    factory = _SEGMENTERS.get(name)
    if factory is not None:
        return factory(device=device, image_size=image_size, cache_dir=cache_dir, **options)
    if name.startswith("torchvision:"):
        from genlens.semantics.torchvision_adapter import TorchvisionSegmenter

        return TorchvisionSegmenter(name.split(":", 1)[1], device=device, **options)
    if name.startswith("hf:"):
        from genlens.semantics.hf_adapter import HFSegmenter

        return HFSegmenter(name.split(":", 1)[1], device=device, **options)
    if ":" in name:
        return load_factory_segmenter(name, **options)
    registered = "".join(f"{n}, " for n in _SEGMENTERS.names())
    raise ConfigError(
        f"unknown segmenter {name!r}; use {registered}torchvision:<arch> (e.g. deeplabv3, fcn), "
        "hf:<model folder>, or pkg.module:factory"
    )


def load_factory_segmenter(spec: str, **options: Any) -> Segmenter:
    """Call the factory ``pkg.module:factory`` and accept what it returns as a segmenter."""
    factory = load_attr(spec, "segmenter factory")
    if callable(factory) and hasattr(factory, "classes"):  # the attribute is itself a segmenter
        return factory
    if not callable(factory):
        raise ConfigError(f"segmenter factory {spec!r} is not callable")
    made = factory(**options)
    return as_segmenter(made, name=spec)
