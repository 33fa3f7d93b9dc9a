"""The zoo's small reference networks, trained on the world on first use and cached on disk.

The four factories are imported lazily from their modules, so a slow or broken model never slows
or breaks the others::

    from genlens.zoo import models
    run = models.dcgan(quick=True)                          # genlens.zoo.models.world_dcgan.dcgan
    from genlens.zoo.models.world_dcgan import DCGANRun     # a module's other contents, as usual

| factory | module | what |
|---|---|---|
| ``classifier`` | ``scene_classifier`` | the dominant object of a world scene; also a feature space |
| ``segmenter`` | ``scene_segmenter`` | per-pixel classes of a world scene |
| ``dcgan`` | ``world_dcgan`` | a DCGAN on world scenes, every epoch's generator kept |
| ``vae`` | ``digits_vae`` | beta-VAEs on scikit-learn's 8x8 digits |
"""

from __future__ import annotations

import importlib
from typing import Any

#: Factory name -> the module that defines it.
_FACTORIES: dict[str, str] = {
    "classifier": "genlens.zoo.models.scene_classifier",
    "segmenter": "genlens.zoo.models.scene_segmenter",
    "dcgan": "genlens.zoo.models.world_dcgan",
    "vae": "genlens.zoo.models.digits_vae",
}

__all__ = sorted(_FACTORIES)


def __getattr__(name: str) -> Any:
    if name not in _FACTORIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    factory = getattr(importlib.import_module(_FACTORIES[name]), name)
    globals()[name] = factory  # later lookups skip __getattr__
    return factory


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FACTORIES))
