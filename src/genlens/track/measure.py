"""One step's diagnostics: generated images -> flat ``{name: value}`` scalars against a reference.

Every tracked view measures the step (:meth:`~genlens.views.View.measure`); names are
``<view>/<quantity>`` so they group naturally in TensorBoard and in the report (``metrics/fid``,
``regions/cluster_03``, ``semantics/area/car``, ``atlas/block4/js``). Each value also gets its
measurement noise, ``se/<name>``: the bootstrap standard error over resamples of the *generated*
images only. The real side is the same at every step, so its own sampling noise cancels in a
step-to-step change; the generated side's does not, and it is what the event rule
(:mod:`genlens.track.events`) weighs a change against. Each value's direction (higher or lower is
better, or not judged) comes from the view that measured it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch

from genlens.errors import InputError
from genlens.features.shared_pass import SharedPasses
from genlens.track.reference import Reference
from genlens.views import RunContext, get_view

#: Prefix of a value's measurement noise (bootstrap standard error): ``se/metrics/fid``.
SE_PREFIX = "se/"


def se_metric(metric: str) -> str:
    """Name of the standard-error series of ``metric``."""
    return SE_PREFIX + metric


@dataclass(frozen=True)
class Step:
    """One step's measurements: scalars (values and their ``se/`` errors), directions and arrays."""

    values: dict[str, float]
    directions: dict[str, bool | None]
    arrays: dict[str, np.ndarray]


class Measurer:
    """Measures generated images with every view of a :class:`Reference`."""

    def __init__(self, reference: Reference, device: str | None = None) -> None:
        self.ref = reference
        self.ctx = RunContext(device=device or "cpu", seed=reference.config.seed)

    def __call__(self, images: torch.Tensor) -> Step:
        """All configured diagnostics of uint8 ``(n, 3, H, W)`` generated images."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise InputError(f"expected uint8 (n, 3, H, W) samples, got {images.dtype} {tuple(images.shape)}")
        if images.shape[0] < 4:
            raise InputError(f"log at least 4 samples per step (got {images.shape[0]}); 100+ give stable numbers")
        images = self._to_reference_size(images)
        values: dict[str, float] = {}
        directions: dict[str, bool | None] = {}
        arrays: dict[str, np.ndarray] = {}
        passes = SharedPasses(self.ctx.device)  # views reading one network on these images share its pass
        for key, fitted in self.ref.fitted.items():
            get_view(key).plan_measure(passes, fitted, images, self.ctx)
        ctx = replace(self.ctx, passes=passes)
        for key, fitted in self.ref.fitted.items():
            measured = get_view(key).measure(fitted, images, ctx, n_boot=self.ref.config.noise_boot)
            for name, m in measured.values.items():
                values[name] = float(m.value)
                directions[name] = m.higher_is_better
                if math.isfinite(m.se):
                    values[se_metric(name)] = float(m.se)
            arrays.update(measured.arrays)
        return Step(values, directions, arrays)

    def _to_reference_size(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) == tuple(self.ref.image_size):
            return images
        from genlens.io import resize_uint8

        return resize_uint8(images, tuple(self.ref.image_size))


def judged(directions: Mapping[str, bool | None]) -> list[str]:
    """The names events are judged on (those with a direction), in a stable order."""
    return [name for name, higher in directions.items() if higher is not None]
