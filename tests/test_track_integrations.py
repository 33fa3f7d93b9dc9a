"""Integrations: the Lightning callback on a tiny module (CPU) and TensorBoard scalars."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genlens.errors import ConfigError, InputError
from genlens.track import Tracker

REAL = "zoo:real?n=80&seed=5&size=16"


def _tracker(tmp_path, **kw):
    return Tracker(REAL, diagnostics=("regions",), store=tmp_path / "t.sqlite", n_regions=80, clusters=2, **kw)


def test_tensorboard_receives_every_logged_scalar(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tracker = _tracker(tmp_path, tensorboard=tmp_path / "tb")
    world = np.random.default_rng(0).integers(0, 256, (40, 3, 16, 16), dtype=np.uint8)
    logged = [tracker.log(step, world, run="seed/1", extra={"loss": 0.5 * step}) for step in range(3)]
    tracker.close()
    acc = EventAccumulator(str(tmp_path / "tb" / "seed_1")).Reload()
    assert "regions/cms" in acc.Tags()["scalars"] and "loss" in acc.Tags()["scalars"]
    cms = acc.Scalars("regions/cms")
    assert [e.step for e in cms] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in cms], [v["regions/cms"] for v in logged], rtol=1e-6)


def test_log_rejects_what_it_cannot_measure(tmp_path):
    tracker = _tracker(tmp_path)
    gen = nn.Sequential(nn.Linear(4, 3 * 16 * 16), nn.Unflatten(1, (3, 16, 16)))
    with pytest.raises(ConfigError, match="fixed noise"):
        tracker.log(0, gen)
    with pytest.raises(InputError, match="at least 4"):
        tracker.log(0, np.zeros((2, 3, 16, 16), np.uint8))
    with pytest.raises(InputError):
        tracker.log(0, np.full((8, 3, 16, 16), np.nan, np.float32))
    with pytest.raises(InputError):
        tracker.log(0, "not images")
    with pytest.raises(ConfigError, match="unknown tracking diagnostic"):
        Tracker(REAL, diagnostics=("atlass",), store=tmp_path / "u.sqlite")
    assert tracker.store.count() == 0


def test_a_second_reference_on_the_same_store_is_refused(tmp_path):
    _tracker(tmp_path)
    with pytest.raises(ConfigError, match="new store"):
        Tracker("zoo:real?n=80&seed=6&size=16", diagnostics=("regions",), store=tmp_path / "t.sqlite",
                n_regions=80, clusters=2)


@pytest.mark.slow
def test_lightning_callback_logs_every_epoch_on_cpu(tmp_path):
    import lightning as L

    from genlens.track import TrackerCallback

    class TinyGAN(L.LightningModule):
        """A generator pulled towards the real images' mean: enough for the callback's contract."""

        def __init__(self, target: torch.Tensor) -> None:
            super().__init__()
            self.generator = nn.Sequential(nn.Linear(8, 3 * 16 * 16), nn.Tanh(), nn.Unflatten(1, (3, 16, 16)))
            self.register_buffer("target", target)

        def training_step(self, batch: torch.Tensor, _: int) -> torch.Tensor:
            return ((self.generator(batch) - self.target) ** 2).mean()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    tracker = _tracker(tmp_path)
    real = tracker.reference.fitted["regions"].real.spatial.float()  # (n, H, W, 3) in [-1, 1]
    module = TinyGAN(real.mean(dim=0).permute(2, 0, 1))
    noise = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    callback = TrackerCallback(tracker, noise=noise, run="lightning")
    data = torch.utils.data.DataLoader(torch.randn(256, 8), batch_size=32)
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[callback],
                        default_root_dir=tmp_path)
    trainer.fit(module, data)
    series = tracker.store.series()["lightning"]["regions/cms"]
    assert [s for s, _ in series] == [0, 1, 2]
    assert np.isfinite([v for _, v in series]).all()
    assert series[-1][1] > series[0][1]  # pulled towards the real mean, the samples get closer to the real set
    assert module.generator.training  # the callback restored training mode


def _train_and_log(store: str, run: str, barrier) -> None:
    import torch as _torch

    _torch.set_num_threads(1)
    barrier.wait()  # every process builds or loads the reference at the same moment
    tracker = Tracker(REAL, diagnostics=("regions",), store=store, n_regions=80, clusters=2)
    images = np.random.default_rng(len(run)).integers(0, 256, (16, 3, 16, 16), dtype=np.uint8)
    for step in range(5):
        tracker.log(step, images, run=run)
    tracker.close()


@pytest.mark.slow
def test_concurrent_trackers_share_one_reference_and_store(tmp_path):
    import multiprocessing as mp

    from genlens.track.tracker import reference_folder

    store = str(tmp_path / "t.sqlite")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_train_and_log, args=(store, "r" * (i + 1), barrier)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    from genlens.track import RunStore

    s = RunStore(store)
    assert s.runs() == ["r", "rr", "rrr"] and all(s.steps(r) == list(range(5)) for r in s.runs())
    assert (reference_folder(store) / "reference.json").is_file()
