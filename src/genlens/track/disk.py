"""Runs saved on disk: ``DIR/<run>/<step>`` folders or arrays, or checkpoints plus a generator factory.

Layout: ``DIR`` holds one folder per run; each run holds one entry per step -- an image folder (a
symbolic link to one is fine) or a ``.npz``/``.npy`` array -- or ``.pt``/``.pth`` generator
checkpoints, sampled through ``factory`` (``pkg.module:function`` returning an ``nn.Module``) on
fixed noise. The step is the last number in the entry's name (``epoch_012`` -> 12,
``step-1000.npz`` -> 1000), so steps sort numerically, not alphabetically.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlens._progress import track
from genlens.errors import ConfigError, InputError
from genlens.plugins import load_attr, load_state_dict
from genlens.track.tracker import Tracker

ARRAY_SUFFIXES = (".npz", ".npy")
CHECKPOINT_SUFFIXES = (".pt", ".pth")
_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class StepEntry:
    run: str
    step: int
    path: Path
    kind: str  # "images" (folder or array) or "checkpoint"


def step_number(name: str) -> int | None:
    """The last integer in ``name`` without its suffix, or ``None``."""
    numbers = _NUMBER.findall(Path(name).stem if Path(name).suffix in (*ARRAY_SUFFIXES, *CHECKPOINT_SUFFIXES) else name)
    return int(numbers[-1]) if numbers else None


def discover_runs(runs_dir: str | Path) -> dict[str, list[StepEntry]]:
    """``{run: [StepEntry, ...]}`` sorted by step; hidden entries and other files are ignored."""
    root = Path(runs_dir).expanduser()
    if not root.is_dir():
        raise InputError(f"runs folder {root} does not exist or is not a folder; give DIR/<run>/<step> as described in docs/track.md")
    runs: dict[str, list[StepEntry]] = {}
    for run_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        entries = []
        for item in run_dir.iterdir():
            if item.name.startswith("."):
                continue
            kind = ("images" if item.is_dir() or item.suffix.lower() in ARRAY_SUFFIXES
                    else "checkpoint" if item.suffix.lower() in CHECKPOINT_SUFFIXES else None)
            if kind is None:
                continue
            step = step_number(item.name)
            if step is None:
                raise InputError(f"{item} has no number in its name; name step entries like epoch_3 or step-1000.npz")
            entries.append(StepEntry(run_dir.name, step, item, kind))
        entries.sort(key=lambda e: e.step)
        steps = [e.step for e in entries]
        if len(set(steps)) != len(steps):
            dup = sorted({s for s in steps if steps.count(s) > 1})
            raise InputError(f"run {run_dir.name} has several entries for step(s) {dup}; keep one per step")
        if entries:
            runs[run_dir.name] = entries
    if not runs:
        raise InputError(f"no runs found in {root}: expected {root}/<run>/<step folder, .npz or checkpoint>")
    return runs


def load_factory(spec: str) -> Callable[[], torch.nn.Module]:
    """``pkg.module:function`` (or ``file.py:function``) -> the function (which must build the generator module)."""
    factory = load_attr(spec, "generator factory")
    if not callable(factory):
        raise ConfigError(f"{spec!r} is not callable; it must build the generator (an nn.Module)")
    return factory


def log_runs(
    tracker: Tracker,
    runs: dict[str, list[StepEntry]],
    n: int | None = None,
    factory: str | None = None,
    latent_dim: int | None = None,
    noise_seed: int = 0,
    resume: bool = True,
    on_step: Callable[[StepEntry, float], None] | None = None,
) -> int:
    """Log every step of every run; with ``resume`` steps already in the store are skipped. Returns steps logged.

    ``on_step(entry, seconds)`` is called after each step (the CLI prints its time)."""
    from genlens.io import open_source

    noise = None
    build = None
    if any(e.kind == "checkpoint" for entries in runs.values() for e in entries):
        if factory is None or latent_dim is None:
            raise ConfigError("checkpoint runs need --generator pkg.module:factory and --latent-dim to sample them")
        build = load_factory(factory)
        noise = torch.randn(n or 1000, latent_dim, generator=torch.Generator().manual_seed(noise_seed))
    todo = [e for entries in runs.values() for e in entries
            if not (resume and e.step in set(tracker.store.steps(e.run)))]
    for entry in track(todo, "tracking saved steps", total=len(todo)):
        start = time.perf_counter()
        if entry.kind == "checkpoint":
            generator = _load_checkpoint(build, entry.path)
            tracker.log(entry.step, generator, noise=noise, run=entry.run)
        else:
            source = open_source(entry.path)
            count = len(source) if n is None else min(n, len(source))
            tracker.log(entry.step, source.read(0, count), run=entry.run)
        if on_step is not None:
            on_step(entry, time.perf_counter() - start)
    return len(todo)


def _load_checkpoint(build: Callable[[], Any], path: Path) -> torch.nn.Module:
    module = build()
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(f"the generator factory returned {type(module).__name__}, not a torch nn.Module")
    state = load_state_dict(path)
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError) as err:
        raise InputError(f"checkpoint {path} does not fit the generator the factory builds: {err}") from err
    return module.eval()
