"""A small DCGAN trained on world scenes, with the generator saved after every epoch.

The tracking view follows diagnostics over a training run, so it needs every epoch's generator
(epoch 0 is the untrained initialisation). The semantics view splits the generator into early and late
layers for layer inversion, so the generator is an ``nn.Sequential`` of named blocks:
``fc`` (latent -> 4x4 map), ``block1`` .. ``blockN`` (each doubles the resolution), ``to_rgb`` (tanh).

All epochs of one run are stored as ONE cached artifact (a module holding ``epochs + 1`` generators)
under a hash of the run's full config, so a run is trained once and its checkpoints never mix.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlens._device import resolve_device
from genlens._progress import track
from genlens._seeding import preserved_rng
from genlens._seeding import seeded as deterministic
from genlens.errors import ConfigError
from genlens.io import GeneratorSource
from genlens.zoo.models._training import (
    TRAIN_SEED_OFFSET,
    check_size,
    to_signed_unit,
    world_version,
)
from genlens.zoo.models.store import load_or_train

#: Bump when the architecture or the training procedure changes (invalidates cached runs).
VERSION = 1

#: Training recipes. ``quick`` is for tests: a few seconds on one CPU core.
RECIPES: dict[bool, dict[str, Any]] = {
    False: {"n_train": 4000, "epochs": 8, "batch_size": 64, "width": 16, "latent_dim": 64, "lr": 2e-4},
    True: {"n_train": 1024, "epochs": 4, "batch_size": 32, "width": 8, "latent_dim": 32, "lr": 5e-4},
}


def build_generator(latent_dim: int, size: int, width: int) -> nn.Sequential:
    """``z (B, latent_dim)`` -> images ``(B, 3, size, size)`` in ``[-1, 1]``, as named blocks."""
    n_up = int(math.log2(size // 4))
    channels = [width * 2 ** (n_up - k) for k in range(n_up + 1)]
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    blocks["fc"] = nn.Sequential(
        nn.Linear(latent_dim, channels[0] * 16, bias=False),
        nn.Unflatten(1, (channels[0], 4, 4)),
        nn.BatchNorm2d(channels[0]),
        nn.ReLU(inplace=True),
    )
    for k in range(n_up):
        blocks[f"block{k + 1}"] = nn.Sequential(
            nn.ConvTranspose2d(channels[k], channels[k + 1], 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels[k + 1]),
            nn.ReLU(inplace=True),
        )
    blocks["to_rgb"] = nn.Sequential(nn.Conv2d(channels[-1], 3, 3, padding=1), nn.Tanh())
    return nn.Sequential(blocks)


def build_discriminator(size: int, width: int) -> nn.Sequential:
    """Images ``(B, 3, size, size)`` in ``[-1, 1]`` -> one real/fake logit per image."""
    n_down = int(math.log2(size // 4))
    layers: list[nn.Module] = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    c = width
    for _ in range(n_down - 1):
        layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, inplace=True)]
        c *= 2
    layers += [nn.Conv2d(c, 1, 4, 1, 0), nn.Flatten()]
    return nn.Sequential(*layers)


def _dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) weights, BatchNorm scales N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANCheckpoints(nn.Module):
    """What the store saves for one run: the generator after each kept epoch and the mean losses per epoch.

    ``kept`` lists the epochs whose generator is stored (every epoch by default); a run that only
    needs its last generator stores one instead of ``epochs + 1``.
    """

    def __init__(self, latent_dim: int, size: int, width: int, epochs: int, kept: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.kept: tuple[int, ...] = tuple(range(epochs + 1)) if kept is None else tuple(kept)
        self.generators = nn.ModuleList(build_generator(latent_dim, size, width) for _ in self.kept)
        # losses[e] = (mean discriminator loss, mean generator loss) during epoch e; row 0 stays zero.
        self.register_buffer("losses", torch.zeros(epochs + 1, 2, dtype=torch.float64))

    def at(self, epoch: int) -> nn.Sequential:
        """The stored generator of ``epoch`` (which must be kept)."""
        return self.generators[self.kept.index(epoch)]


class DCGANRun:
    """A trained DCGAN run: its config, and the generator at any epoch ``0 .. epochs``."""

    def __init__(self, checkpoints: DCGANCheckpoints, config: dict[str, Any]) -> None:
        self._checkpoints = checkpoints.eval()
        self.config = dict(config)
        self.size: int = config["size"]
        self.latent_dim: int = config["latent_dim"]
        self.epochs: int = config["epochs"]
        self.exclude_class: str | None = config["exclude_class"]

    @property
    def kept_epochs(self) -> tuple[int, ...]:
        """The epochs whose generator this run stores (every epoch unless trained with ``keep_epochs``)."""
        return self._checkpoints.kept

    def _epoch(self, epoch: int | None) -> int:
        if epoch is None:
            return self.epochs
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= self.epochs:
            raise ConfigError(f"epoch must be an int in 0..{self.epochs} (0 = untrained), got {epoch!r}")
        if epoch not in self.kept_epochs:
            raise ConfigError(
                f"this run keeps the generators of epochs {list(self.kept_epochs)} only, not {epoch}; "
                "ask for the run with keep_epochs=None to keep every epoch"
            )
        return epoch

    def generator(self, epoch: int | None = None) -> nn.Sequential:
        """A fresh copy (eval mode) of the generator after ``epoch`` (default: the last)."""
        return copy.deepcopy(self._checkpoints.at(self._epoch(epoch))).eval()

    def as_source(
        self, n: int, seed: int = 0, epoch: int | None = None, device: str | torch.device | None = None
    ) -> GeneratorSource:
        """``n`` samples of the generator after ``epoch`` as an image source (image ``i`` depends on ``(seed, i)``).

        Latents follow :class:`~genlens.io.GeneratorSource`'s rule; the fingerprint hashes the weights.
        """
        epoch = self._epoch(epoch)
        dev = resolve_device(device)
        return GeneratorSource(
            self.generator(epoch).to(dev),
            self.latent_dim,
            n,
            seed=seed,
            batch_size=256,
            value_range=(-1.0, 1.0),
            device=dev,
            name=f"zoo-dcgan(size={self.size}, epoch={epoch}, exclude_class={self.exclude_class})",
        )

    def sample(
        self, n: int, seed: int = 0, epoch: int | None = None, device: str | torch.device | None = None
    ) -> torch.Tensor:
        """``n`` images as uint8 ``(n, 3, H, W)`` on the CPU; the same images as ``as_source(n, seed, epoch)``."""
        return self.as_source(n, seed, epoch, device).read_all()

    @property
    def losses(self) -> dict[str, list[float]]:
        """Mean discriminator and generator loss per trained epoch (index 0 = epoch 1)."""
        table = self._checkpoints.losses[1:].tolist()
        return {"discriminator": [row[0] for row in table], "generator": [row[1] for row in table]}

    def training_scenes(self) -> Any:
        """The world scenes this run was trained on (re-generated deterministically)."""
        return training_scenes(self.size, self.config["n_train"], self.config["seed"], self.exclude_class)

    def __repr__(self) -> str:
        extra = f", exclude_class={self.exclude_class!r}" if self.exclude_class else ""
        return f"DCGANRun(size={self.size}, epochs={self.epochs}, latent_dim={self.latent_dim}{extra})"


def training_scenes(size: int, n: int, seed: int, exclude_class: str | None = None) -> Any:
    """World scenes for DCGAN training; with ``exclude_class`` from the world's ``drop_class`` generator."""
    from genlens.zoo import World, make_generator

    data_seed = seed + TRAIN_SEED_OFFSET
    if exclude_class is None:
        return World(size=size).sample(n, seed=data_seed)
    return make_generator("drop_class", size=size, seed=data_seed, name=exclude_class).sample(n, seed=data_seed)


def dcgan(
    size: int = 32,
    epochs: int | None = None,
    seed: int = 0,
    quick: bool = False,
    exclude_class: str | None = None,
    lr: float | None = None,
    lr_boost: tuple[int, float] | None = None,
    keep_epochs: Sequence[int] | None = None,
    cache_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    pretrained: bool = True,
) -> DCGANRun:
    """A DCGAN trained on world scenes (shipped, else trained once and cached), with a generator per epoch.

    ``exclude_class`` trains on scenes in which that class never appears. ``lr_boost=(epoch, factor)``
    multiplies both learning rates by ``factor`` from training epoch ``epoch`` on (checkpoint ``epoch``
    is the first trained with it): a planted, known-time instability for the tracking view.
    ``keep_epochs`` stores only those epochs' generators (default: every epoch; the training is the
    same either way). ``pretrained=False`` ignores the weights shipped with genlens.
    """
    from genlens.zoo import CLASSES, OBJECT_CLASSES

    check_size(size)
    if size & (size - 1):
        raise ConfigError(f"the zoo DCGAN needs a power-of-two size (16, 32, 64, ...), got {size}")
    recipe = dict(RECIPES[bool(quick)])
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be a positive int, got {epochs!r}")
        recipe["epochs"] = epochs
    if lr is not None:
        if not float(lr) > 0:
            raise ConfigError(f"lr must be > 0, got {lr!r}")
        recipe["lr"] = float(lr)
    if exclude_class is not None and exclude_class not in OBJECT_CLASSES:
        raise ConfigError(
            f"exclude_class {exclude_class!r} is not a world object class; choose one of {list(OBJECT_CLASSES)}"
        )
    if lr_boost is not None:
        lr_boost = _check_boost(lr_boost, recipe["epochs"])
    kept = _check_keep(keep_epochs, recipe["epochs"])
    dev = resolve_device(device)
    config = {
        "size": size,
        "quick": bool(quick),
        "seed": seed,
        "lr_boost": list(lr_boost) if lr_boost else None,
        "keep_epochs": list(kept) if kept is not None else None,
        "exclude_class": exclude_class,
        "classes": list(CLASSES),
        "version": VERSION,
        "world": world_version(),
        **recipe,
    }

    def build() -> DCGANCheckpoints:
        with preserved_rng():
            return DCGANCheckpoints(recipe["latent_dim"], size, recipe["width"], recipe["epochs"], kept)

    def train(checkpoints: DCGANCheckpoints) -> None:
        scenes = training_scenes(size, recipe["n_train"], seed, exclude_class)
        with deterministic(seed):
            _train(checkpoints, torch.from_numpy(scenes.images), recipe, lr_boost, dev, size, quick)

    return DCGANRun(load_or_train("zoo-dcgan", config, build, train, cache_dir, pretrained), config)


def _check_keep(keep_epochs: Sequence[int] | None, epochs: int) -> tuple[int, ...] | None:
    if keep_epochs is None:
        return None
    try:
        kept = tuple(sorted({int(e) for e in keep_epochs}))
    except (TypeError, ValueError):
        raise ConfigError(f"keep_epochs must be epochs in 0..{epochs}, got {keep_epochs!r}") from None
    if not kept or kept[0] < 0 or kept[-1] > epochs:
        raise ConfigError(f"keep_epochs must be a non-empty set of epochs in 0..{epochs}, got {keep_epochs!r}")
    return kept


def _check_boost(lr_boost: Any, epochs: int) -> tuple[int, float]:
    try:
        epoch, factor = lr_boost
    except (TypeError, ValueError):
        raise ConfigError(f"lr_boost must be (epoch, factor), got {lr_boost!r}") from None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= epochs:
        raise ConfigError(f"lr_boost epoch must be an int in 1..{epochs}, got {epoch!r}")
    if not float(factor) > 0:
        raise ConfigError(f"lr_boost factor must be > 0, got {factor!r}")
    return epoch, float(factor)


def _train(
    checkpoints: DCGANCheckpoints,
    images: torch.Tensor,
    recipe: dict[str, Any],
    lr_boost: tuple[int, float] | None,
    device: torch.device,
    size: int,
    quick: bool,
) -> None:
    """Non-saturating GAN training (Adam, betas 0.5/0.999); snapshot the generator after every epoch."""
    generator = build_generator(recipe["latent_dim"], size, recipe["width"]).apply(_dcgan_init).to(device)
    discriminator = build_discriminator(size, recipe["width"]).apply(_dcgan_init).to(device)
    if 0 in checkpoints.kept:
        checkpoints.at(0).load_state_dict(generator.state_dict())
    opt_g = torch.optim.Adam(generator.parameters(), lr=recipe["lr"], betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=recipe["lr"], betas=(0.5, 0.999))
    batch_size, epochs = recipe["batch_size"], recipe["epochs"]
    steps_per_epoch = max(1, len(images) // batch_size)
    sums = torch.zeros(2, dtype=torch.float64)
    order = torch.randperm(len(images))
    description = f"training zoo DCGAN ({size}px{', quick' if quick else ''})"
    for step in track(range(epochs * steps_per_epoch), description, total=epochs * steps_per_epoch):
        epoch, position = divmod(step, steps_per_epoch)
        epoch += 1
        if position == 0 and step > 0:
            order = torch.randperm(len(images))
        if position == 0 and lr_boost is not None and epoch == lr_boost[0]:
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] *= lr_boost[1]
        real = to_signed_unit(images[order[position * batch_size : (position + 1) * batch_size]].to(device))
        z = torch.randn(len(real), recipe["latent_dim"], device=device)
        fake = generator(z)
        # Discriminator: real -> 1, fake -> 0.
        logits_real, logits_fake = discriminator(real), discriminator(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real)) + \
            F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # Generator: make the discriminator call fakes real (the non-saturating loss).
        logits_gen = discriminator(fake)
        loss_g = F.binary_cross_entropy_with_logits(logits_gen, torch.ones_like(logits_gen))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        sums += torch.tensor([loss_d.item(), loss_g.item()], dtype=torch.float64)
        if position == steps_per_epoch - 1:
            if epoch in checkpoints.kept:
                checkpoints.at(epoch).load_state_dict(generator.state_dict())
            checkpoints.losses[epoch] = sums / steps_per_epoch
            sums.zero_()
    checkpoints.cpu()
