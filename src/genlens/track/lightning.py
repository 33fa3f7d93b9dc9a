"""PyTorch Lightning integration: a callback that logs the tracker's diagnostics every N epochs.

    trainer = L.Trainer(callbacks=[TrackerCallback(tracker, noise=torch.randn(500, 128), run="seed-3")])

The generator is ``pl_module.<generator_attr>`` (default ``generator``; the module itself when it has
no such attribute), sampled on the fixed ``noise`` in eval mode. Only global rank 0 measures and
writes; the values also go to the trainer's own logger (TensorBoard, CSV, ...) when it has one.
Lightning is optional: this module is imported only when ``TrackerCallback`` is first used.
"""

from __future__ import annotations

from typing import Any

import torch

try:
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - the older package name
    try:
        from pytorch_lightning import Callback  # type: ignore[no-redef]
    except ImportError as err:
        raise ImportError(
            "TrackerCallback needs PyTorch Lightning (pip install lightning); the plain-loop Tracker does not"
        ) from err

from genlens.errors import ConfigError
from genlens.track.tracker import Tracker


class TrackerCallback(Callback):
    """Log ``tracker`` diagnostics of the module's generator at the end of every ``every_n_epochs``-th epoch."""

    def __init__(self, tracker: Tracker, noise: torch.Tensor, run: str = "run", every_n_epochs: int = 1,
                 generator_attr: str = "generator", log_to_logger: bool = True) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ConfigError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.tracker, self.noise, self.run = tracker, noise, run
        self.every_n_epochs, self.generator_attr, self.log_to_logger = every_n_epochs, generator_attr, log_to_logger
        self.last: dict[str, float] = {}

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        epoch = int(trainer.current_epoch)
        if (epoch + 1) % self.every_n_epochs or not trainer.is_global_zero:
            return
        generator = getattr(pl_module, self.generator_attr, pl_module)
        self.last = self.tracker.log(epoch, generator, noise=self.noise, run=self.run)
        if self.log_to_logger and trainer.logger is not None:
            trainer.logger.log_metrics({f"genlens/{k}": v for k, v in self.last.items()}, step=trainer.global_step)
