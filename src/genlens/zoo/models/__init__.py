"""The zoo's small reference networks, trained on the world on first use and cached on disk.

``classifier``, ``segmenter``, ``dcgan`` and ``vae`` are submodules, imported only when first used (so a
broken or slow-to-import model never breaks the others), and each is *callable*: calling the module
calls its factory function of the same name. Both spellings therefore work::

    from genlens.zoo import models
    run = models.dcgan(quick=True)                      # the factory, through the callable module
    from genlens.zoo.models.dcgan import DCGANRun, dcgan  # the module's contents, as usual
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: Factory name -> submodule that defines a function of that name.
_FACTORIES: dict[str, str] = {
    "classifier": "genlens.zoo.models.classifier",
    "segmenter": "genlens.zoo.models.segmenter",
    "dcgan": "genlens.zoo.models.dcgan",
    "vae": "genlens.zoo.models.vae",
}

__all__ = sorted(_FACTORIES)


class _FactoryModule(types.ModuleType):
    """A model submodule that, called, calls its factory: ``models.dcgan(...)`` is ``models.dcgan.dcgan(...)``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, self.__name__.rpartition(".")[2])(*args, **kwargs)


def _callable(module: types.ModuleType) -> types.ModuleType:
    if type(module) is types.ModuleType:
        module.__class__ = _FactoryModule
    return module


def __getattr__(name: str) -> Any:
    if name not in _FACTORIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _callable(importlib.import_module(_FACTORIES[name]))


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FACTORIES))


class _Package(types.ModuleType):
    """Makes a factory submodule callable however it was first imported (the import system binds it here)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FACTORIES and isinstance(value, types.ModuleType):
            value = _callable(value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
