"""The plain-loop API: fix the reference once, then log every step's diagnostics into the store.

    tracker = Tracker(real_source, store="runs/track.sqlite")
    for epoch in range(epochs):
        train_one_epoch(generator)
        tracker.log(epoch, generator, noise=fixed_noise, run="seed-3")

``samples`` may be images (uint8, or float in [0, 1] / [-1, 1]; NCHW or NHWC), an ``ImageSource``,
or a generator (any callable ``noise -> images``) together with fixed ``noise``: fixed noise makes the
step-to-step changes reflect the generator, not a new draw of latents.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlens.errors import ConfigError, InputError
from genlens.io import ArraySource, open_source
from genlens.io.base import ImageSource
from genlens.track.measure import Measurer
from genlens.track.reference import Reference, ReferenceConfig, load_or_build
from genlens.track.store import RunStore


def reference_folder(store: str | os.PathLike[str]) -> Path:
    """Where the reference of a store lives: ``<store>.reference/`` beside it."""
    path = Path(store).expanduser()
    return path.with_name(path.name + ".reference")


class Tracker:
    """Diagnostics of generated samples over steps and runs, stored in one SQLite file.

    ``real`` is anything :func:`~genlens.io.open_source` accepts. ``diagnostics`` picks tracked views
    (built in: ``metrics`` -- FD, KID, PRDC in ``features`` space; ``regions`` -- image and
    cluster-wise CMS; ``semantics`` -- class areas and FSD under ``segmenter``; ``atlas`` -- JS
    divergence of activation cells of ``atlas_model`` on a map fitted once on the real images; and any
    view a plugin registers). ``options`` sets any view's ``Options`` by key (e.g.
    ``{"regions": {"bandwidth_scale": 0.1}}``); the other keyword arguments are shortcuts for the
    built-in views. ``noise_boot`` resamples of each step's images give every value its measurement
    noise (``se/<name>``), which the event rule weighs changes against (0: none).
    ``tensorboard`` (a folder) also writes every value as a TensorBoard scalar, one sub-folder per run.
    """

    def __init__(
        self,
        real: Any,
        diagnostics: Sequence[str] = ("metrics", "regions"),
        store: str | os.PathLike[str] = "genlens-track.sqlite",
        features: str = "auto",
        feature_options: Mapping[str, Any] | None = None,
        metrics: Sequence[str] = ("fid", "kid", "prdc"),
        n_real: int = 1000,
        n_regions: int = 500,
        clusters: int | None = None,
        segmenter: str | None = None,
        segmenter_options: Mapping[str, Any] | None = None,
        atlas_model: str | None = None,
        atlas_options: Mapping[str, Any] | None = None,
        atlas_layers: Sequence[str] | None = None,
        atlas_grid: int = 20,
        atlas_positions: int = 2,
        noise_boot: int = 20,
        seed: int = 0,
        device: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        tensorboard: str | os.PathLike[str] | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if atlas_grid < 2 or atlas_positions < 1:
            raise ConfigError(f"atlas_grid must be >= 2 and atlas_positions >= 1, got {atlas_grid}, {atlas_positions}")
        if n_regions < 4:
            raise ConfigError(f"n_regions must be >= 4, got {n_regions}")
        shortcuts: dict[str, dict[str, Any]] = {
            "metrics": {"features": features, "metrics": tuple(metrics),
                        "feature_options": tuple(sorted(dict(feature_options or {}).items()))},
            "regions": {"clusters": clusters, "max_images": int(n_regions)},
            "semantics": {"segmenter": segmenter,
                          "segmenter_options": tuple(sorted(dict(segmenter_options or {}).items()))},
            "atlas": {"model": atlas_model, "layers": tuple(atlas_layers) if atlas_layers else None,
                      "grids": (int(atlas_grid),), "positions": int(atlas_positions), "max_images": int(n_real),
                      **dict(atlas_options or {})},
        }
        chosen = tuple(diagnostics)
        view_options = {key: {**shortcuts.get(key, {}), **dict((options or {}).get(key, {}))} for key in chosen}
        config = ReferenceConfig(diagnostics=chosen, options=view_options, n_real=int(n_real),
                                 noise_boot=int(noise_boot), seed=int(seed))
        config.check()
        self.device = device
        self.store = RunStore(store)
        self.reference: Reference = load_or_build(
            reference_folder(store), open_source(real), config, device=device, cache_dir=cache_dir
        )
        self.store.set_meta("reference_key", self.reference.key)
        self._measure = Measurer(self.reference, device=device)
        self._tensorboard = Path(tensorboard) if tensorboard is not None else None
        self._writers: dict[str, Any] = {}

    def log(
        self,
        step: int,
        samples: Any,
        run: str = "run",
        noise: torch.Tensor | None = None,
        extra: Mapping[str, float] | None = None,
        batch_size: int = 256,
    ) -> dict[str, float]:
        """Compute the diagnostics of ``samples`` at ``step`` of ``run``; store and return them.

        ``extra`` scalars (losses, learning rate, ...) are stored in the same transaction.
        Logging a step again replaces its values, so a resumed run may repeat its last step.
        """
        images = self._images(samples, noise, batch_size)
        measured = self._measure(images)
        values = dict(measured.values)
        if extra:
            values.update({str(k): float(v) for k, v in extra.items()})
        self.store.record_directions(measured.directions)
        self.log_scalars(step, values, run=run, arrays=measured.arrays)
        return values

    def log_scalars(self, step: int, values: Mapping[str, float], run: str = "run",
                    arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Store scalars computed elsewhere (e.g. training losses) under ``run`` and ``step``."""
        self.store.log(run, step, values, arrays)
        if self._tensorboard is not None:
            writer = self._writer(run)
            for name, value in values.items():
                writer.add_scalar(name, float(value), int(step))
            writer.flush()

    def events(self, rule: Any = None, runs: Sequence[str] | None = None) -> list[Any]:
        """Events so far (see :mod:`genlens.track.events`); cheap enough to call after every step."""
        from genlens.track.events import detect_events

        series = self.store.series(list(runs) if runs is not None else None)
        return detect_events(series, rule, directions=self.store.directions(), reference=self.reference,
                             arrays=self.store.arrays)

    def _images(self, samples: Any, noise: torch.Tensor | None, batch_size: int) -> torch.Tensor:
        if callable(samples) and not isinstance(samples, (torch.Tensor, np.ndarray, ImageSource)):
            if noise is None:
                raise ConfigError("logging a generator needs fixed noise: tracker.log(step, generator, noise=z)")
            return sample_generator(samples, noise, batch_size)
        if noise is not None:
            raise ConfigError("noise is only used with a generator; pass either images or (generator, noise)")
        return as_uint8_images(samples)

    def _writer(self, run: str) -> Any:
        if run not in self._writers:
            from torch.utils.tensorboard import SummaryWriter

            self._writers[run] = SummaryWriter(log_dir=str(self._tensorboard / _safe_folder(run)))
        return self._writers[run]

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self.store.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def sample_generator(generator: Callable[[torch.Tensor], Any], noise: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Images of ``generator`` on fixed ``noise``, in eval mode and without gradients (mode restored after).

    Float outputs are read as ``[-1, 1]`` when any value is negative, else ``[0, 1]`` (the io rule).
    """
    if not isinstance(noise, torch.Tensor) or noise.ndim < 2 or len(noise) == 0:
        raise InputError("noise must be a non-empty tensor of latents (n, latent_dim, ...)")
    module = generator if isinstance(generator, torch.nn.Module) else None
    was_training = module.training if module is not None else False
    device = noise.device
    if module is not None:
        device = next(iter(module.parameters()), noise).device  # the noise goes where the weights are
        module.eval()
    try:
        with torch.no_grad():
            parts = [torch.as_tensor(generator(noise[i : i + batch_size].to(device))).detach().cpu()
                     for i in range(0, len(noise), batch_size)]
    finally:
        if module is not None:
            module.train(was_training)
    out = torch.cat(parts)
    if out.dtype != torch.uint8 and not bool(torch.isfinite(out).all()):
        raise InputError("the generator produced NaN or infinite values at this step (training diverged?)")
    return as_uint8_images(out)


def as_uint8_images(images: ImageSource | np.ndarray | torch.Tensor) -> torch.Tensor:
    """Generated samples (uint8, or float in [0, 1] / [-1, 1]; NCHW or NHWC) -> uint8 ``(n, 3, H, W)``."""
    if isinstance(images, ImageSource):
        return images.read_all()
    if not isinstance(images, (np.ndarray, torch.Tensor)):
        raise InputError(f"samples must be a tensor, an array or an ImageSource, got {type(images).__name__}")
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu()
    return ArraySource(images, name="samples").read_all()


def _safe_folder(run: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in run) or "run"
