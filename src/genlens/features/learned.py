"""``learned``: a feature space trained self-supervised on the user's own real images, and only on them.

For images no pretrained network covers (or a machine that cannot download one), a small CNN is
trained with SimCLR's contrastive loss (NT-Xent) to map two random augmentations of the same real image
close together and different images apart (:mod:`genlens.features.augment`). It learns what varies
*between* real images -- objects, layout, texture -- and is invariant to what the augmentations change.
Generated images never train it: it is fitted once per real set and then measures every generator.

* **Encoder**: four blocks (3x3 conv stride 2, BN, ReLU, then in blocks 2-4 a second 3x3 conv, BN,
  ReLU), widths ``w, 2w, 4w, dim`` (32, 64, 128, 128), global average pool -> a ``dim``-d embedding,
  L2-normalised. A two-layer projection head is used for the loss only and thrown away (SimCLR: the
  representation before the head keeps more of the image than the head's contrastive output does).
* **Budget**: a number of optimizer steps (batch 256), not epochs: ``30 * sqrt(n / 1000)`` clipped to
  20..250 (1k images: 30 steps, about 8 epochs; 10k: 95 steps, about 2.4 epochs), AdamW with a
  one-cycle schedule. Images train at their own size up to ``max_size`` (64 px); larger images are
  resized to it, and so is every image the extractor reads.
* **Cache**: ``<cache>/learned/<key>.pt`` (a weights-only state dict, written atomically under a file
  lock, so concurrent processes train once), ``key`` = hash of the real set's fingerprint and the recipe.
  The extractor's fingerprint includes the weights' SHA-256, so the feature cache never mixes encoders.
* **Determinism**: the recipe's seed fixes the initialisation, the batches and every augmentation
  (a forked torch RNG plus one CPU generator); the caller's RNG is left as it was.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlens._device import resolve_device
from genlens._fs import atomic_path, default_cache_dir, exclusive_lock
from genlens._hashing import hash_json
from genlens._json import write_json
from genlens._progress import track
from genlens._seeding import preserved_rng, seeded
from genlens.errors import ConfigError, InputError
from genlens.features.augment import Augment
from genlens.features.torchvision_models import ModuleExtractor
from genlens.io.base import ImageSource
from genlens.io.preprocess import resize_uint8
from genlens.plugins import load_state_dict

NAME = "learned"
#: Bump when the training code changes the weights a recipe gives.
LEARNED_VERSION = 1
#: The spatial feature maps an extractor or an atlas can read, early to late.
BLOCKS = ("block1", "block2", "block3", "block4")
#: Inputs are scaled to [-1, 1] (mean 0.5, std 0.5 per channel), in training and in the extractor alike.
SIGNED = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@dataclass(frozen=True)
class LearnedRecipe:
    """Everything that decides the trained weights besides the real images (it keys the cache)."""

    steps: int | None = None  # None: the step budget of :meth:`steps_for`
    batch_size: int = 256
    width: int = 32
    dim: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    max_size: int = 64
    max_images: int = 50_000
    augment: Augment = field(default_factory=Augment)
    seed: int = 0

    def steps_for(self, n: int) -> int:
        """``steps``, else ``30 * sqrt(n / 1000)`` clipped to 20..250: more images need more steps to be
        seen, but the cost per step, not per epoch, is what a user waits for (about 2 s per step of
        64-px images on two CPU cores)."""
        if self.steps is not None:
            return int(self.steps)
        return int(min(250, max(20, round(30 * math.sqrt(n / 1000)))))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LearnedRecipe:
        data = dict(data)
        augment = data.pop("augment", {})
        if isinstance(augment, dict):
            augment = Augment(**{k: tuple(v) if isinstance(v, list) else v for k, v in augment.items()})
        return cls(**data, augment=augment)


def _block(c_in: int, c_out: int, convs: int = 2) -> nn.Sequential:
    """A 3x3 conv of stride 2, then ``convs - 1`` more at that resolution, each with BN and ReLU."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, stride=2 if i == 0 else 1, padding=1, bias=False),
                   nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class L2Normalise(nn.Module):
    """Rows scaled to unit length: the loss compares directions only, so lengths carry no trained meaning."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1)


class LearnedEncoder(nn.Module):
    """Images in [-1, 1] -> L2-normalised embeddings; ``block1..block4`` are its spatial stages."""

    def __init__(self, width: int = 32, dim: int = 128) -> None:
        super().__init__()
        widths = (width, 2 * width, 4 * width, dim)
        self.block1 = _block(3, widths[0], convs=1)  # one conv on the largest maps, which cost the most
        self.block2 = _block(widths[0], widths[1])
        self.block3 = _block(widths[1], widths[2])
        self.block4 = _block(widths[2], widths[3])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embedding = L2Normalise()
        # (H, W) it was trained at, kept in the weights file so the file alone says how to read images
        self.register_buffer("trained_size", torch.zeros(2, dtype=torch.long))
        self.record: dict[str, Any] = {}  # provenance set by load_encoder: weights hash, recipe, real set
        self.path: str | None = None  # the file it was loaded from

    @property
    def image_size(self) -> tuple[int, int] | None:
        """The training images' ``(H, W)``, which the extractor resizes to (``None`` if unknown)."""
        size = tuple(int(v) for v in self.trained_size)
        return size if min(size) > 0 else None  # type: ignore[return-value]

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding before normalisation (what the projection head sees in training)."""
        return self.pool(self.block4(self.block3(self.block2(self.block1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(self.pooled(x))

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> LearnedEncoder:
        """The encoder a state dict was saved from (its widths are read from the weights' shapes)."""
        try:
            width, dim = int(state["block1.0.weight"].shape[0]), int(state["block4.0.weight"].shape[0])
            with preserved_rng():  # the throw-away initialisation must not move the caller's RNG
                model = cls(width, dim)
            model.load_state_dict(state)
        except (KeyError, RuntimeError) as err:
            raise InputError(f"not the state dict of a learned encoder ({err})") from None
        return model.eval()


def projection_head(dim: int, out: int = 64) -> nn.Sequential:
    """SimCLR's MLP head, used for the loss only."""
    return nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(inplace=True), nn.Linear(dim, out))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent: row ``i`` of ``z1`` must pick row ``i`` of ``z2`` among all ``2B - 1`` others."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    b = len(z1)
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(logits, target)


def train_size(image_size: tuple[int, int], max_size: int) -> tuple[int, int]:
    """The images' own size, or scaled down so the longer side is ``max_size``."""
    h, w = int(image_size[0]), int(image_size[1])
    scale = min(1.0, max_size / max(h, w))
    return max(8, round(h * scale)), max(8, round(w * scale))


def training_images(real: ImageSource, recipe: LearnedRecipe, batch: int = 1024) -> torch.Tensor:
    """The real images the encoder trains on, uint8 at :func:`train_size`: every image, or an evenly
    spaced ``max_images`` of a larger set."""
    n = len(real)
    size = train_size(real.image_size, recipe.max_size)
    keep = torch.linspace(0, n - 1, min(n, recipe.max_images)).round().long().unique()
    parts = []
    for lo in range(0, n, batch):
        hi = min(lo + batch, n)
        rows = keep[(keep >= lo) & (keep < hi)] - lo
        if len(rows):
            parts.append(resize_uint8(real.read(lo, hi)[rows], size))
    return torch.cat(parts)


def fit_contrastive(encoder: LearnedEncoder, images: torch.Tensor, recipe: LearnedRecipe,
                    device: torch.device) -> list[float]:
    """Train ``encoder`` in place on uint8 ``images`` with NT-Xent; returns the loss of every step.

    Deterministic for a given recipe and device: call it under a seeded (forked) torch RNG, as
    :func:`train_encoder` does; batches and augmentations come from a generator seeded by the recipe."""
    if len(images) < 2:
        raise InputError(f"the learned feature space needs at least 2 real images to contrast, got {len(images)}")
    generator = torch.Generator().manual_seed(recipe.seed)
    head = projection_head(recipe.dim).to(device)
    encoder.to(device).train()
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = recipe.steps_for(len(images))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=steps, pct_start=0.1)
    batch = min(recipe.batch_size, len(images))
    order, position, losses = torch.randperm(len(images), generator=generator), 0, []
    for _ in track(range(steps), "training the learned feature space", total=steps):
        if position + batch > len(order):
            order, position = torch.randperm(len(images), generator=generator), 0
        x = images[order[position : position + batch]].to(device).float().div_(255)
        position += batch
        views = torch.cat([recipe.augment(x, generator), recipe.augment(x, generator)]).mul_(2).sub_(1)
        z = head(encoder.pooled(views))
        loss = nt_xent(z[:batch], z[batch:], recipe.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
    encoder.cpu().eval()
    return losses


def learned_dir(cache_dir: str | Path | None = None) -> Path:
    """Where trained encoders live: ``<cache_dir>/learned`` (default ``$GENLENS_CACHE/learned``)."""
    return (Path(cache_dir) if cache_dir not in (None, False) else default_cache_dir()) / "learned"


def encoder_key(real: ImageSource, recipe: LearnedRecipe) -> str:
    """Hash of what decides the weights: the real set's fingerprint, the recipe, the code version."""
    return hash_json({"real": real.fingerprint(), "n": len(real), "recipe": recipe.to_dict(),
                      "version": LEARNED_VERSION}, 32)


def train_encoder(real: ImageSource, recipe: LearnedRecipe | None = None, cache_dir: str | Path | None = None,
                  device: str | torch.device | None = None) -> LearnedEncoder:
    """The encoder trained on ``real`` by ``recipe``: loaded from the cache, else trained now and cached."""
    recipe = recipe or LearnedRecipe()
    key = encoder_key(real, recipe)
    path = learned_dir(cache_dir) / f"{key}.pt"
    with exclusive_lock(path):  # a second process waits for the first's training instead of repeating it
        if not path.exists():
            encoder = _train(real, recipe, resolve_device(device))
            with atomic_path(path) as tmp:
                torch.save(encoder.state_dict(), tmp)
            sidecar = {"key": key, "recipe": recipe.to_dict(), "real": real.describe(), "version": LEARNED_VERSION}
            write_json(path.with_suffix(".json"), sidecar)
    return load_encoder(path)


def _train(real: ImageSource, recipe: LearnedRecipe, device: torch.device) -> LearnedEncoder:
    images = training_images(real, recipe)
    with seeded(recipe.seed):  # the caller's torch RNG is left as it was
        encoder = LearnedEncoder(recipe.width, recipe.dim)
        encoder.trained_size.copy_(torch.tensor(images.shape[-2:]))
        fit_contrastive(encoder, images, recipe, device)
    return encoder


def load_encoder(path: str | Path) -> LearnedEncoder:
    """A trained encoder from its state-dict file (``weights_only``), with its provenance in ``record``."""
    from genlens.io.torch_sources import module_weights_hash

    path = Path(path).expanduser()
    encoder = LearnedEncoder.from_state_dict(load_state_dict(path))
    sidecar = path.with_suffix(".json")
    meta = _read_json(sidecar) if sidecar.exists() else {}
    encoder.record = {"weights": NAME, "weights_sha256": module_weights_hash(encoder)}
    if meta:  # provenance only: the weights alone decide the features
        encoder.record.update(recipe=meta.get("recipe"), trained_on=(meta.get("real") or {}).get("fingerprint"))
    encoder.path = str(path)
    return encoder


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


class LearnedExtractor(ModuleExtractor):
    """A trained :class:`LearnedEncoder` behind the extractor contract.

    Outputs: ``features`` (the L2-normalised ``dim``-d embedding) by default; ``layers="block2,block3"``
    reads those stages instead, global-average-pooled, or as ``(C, h, w)`` maps with ``spatial=True``.
    The fingerprint includes the weights' SHA-256 (not the file's location).
    """

    def __init__(self, encoder: LearnedEncoder, layers: str | list[str] | tuple[str, ...] | None = None,
                 input_size: int | tuple[int, int] | None | str = "trained", **kwargs: Any) -> None:
        size = encoder.image_size if input_size == "trained" else input_size
        layers = "embedding" if not layers else layers
        aliases = {"embedding": "features"}
        names = [part for part in layers.split(",") if part] if isinstance(layers, str) else list(layers)
        names = ["embedding" if part == "features" else part for part in names]
        weights = {"weights": NAME, "weights_sha256": encoder.record.get("weights_sha256")}
        super().__init__(encoder, names, name=NAME, weights=weights, input_size=size,
                         mean_std=SIGNED, aliases=aliases, **kwargs)
        self.weights_file = encoder.path
        self._provenance = {k: encoder.record[k] for k in ("recipe", "trained_on") if k in encoder.record}

    def describe(self) -> dict[str, Any]:
        """Provenance: the recipe, the real set trained on, and the weights file a loaded reference needs
        to rebuild this extractor."""
        return {**super().describe(), **self._provenance, "weights_file": self.weights_file}

    def fingerprint(self) -> str:
        """Hash of what decides the numbers (weights SHA-256, preprocessing, outputs, dtype), not of the
        file's location or the training provenance: the same weights anywhere give the same features."""
        return hash_json(super().describe(), 32)


def learned_extractor(device: str | torch.device | None = None, real: ImageSource | None = None,
                      recipe: LearnedRecipe | dict[str, Any] | None = None, weights: str | Path | None = None,
                      sha256: str | None = None, cache_dir: str | Path | None = None,
                      image_size: tuple[int, int] | None = None, **kwargs: Any) -> LearnedExtractor:
    """``get_extractor("learned", real=REAL)``: train (or load) the encoder on ``real`` and read it.

    ``weights=PATH`` loads an encoder trained before (its ``.pt`` file under ``<cache>/learned``), refused
    when ``sha256`` is given and differs. ``image_size`` (the registry's hint) is not needed: the encoder
    reads images at the size it was trained at. ``kwargs`` go to :class:`LearnedExtractor`.
    """
    del image_size
    if weights is not None:
        encoder = load_encoder(weights)
        if sha256 is not None and encoder.record["weights_sha256"] != sha256:
            raise InputError(f"{weights}: the learned encoder's weights changed since these features were "
                             f"computed (SHA-256 {encoder.record['weights_sha256'][:16]}..., expected {sha256[:16]}...)")
    elif real is not None:
        if isinstance(recipe, dict):
            recipe = LearnedRecipe.from_dict(recipe)
        encoder = train_encoder(real, recipe, cache_dir=cache_dir, device=device)
    else:
        raise ConfigError("the 'learned' feature space is trained on the real images: pass the real set "
                          "(extract(..., train_on=REAL), get_extractor('learned', real=REAL)) or a trained "
                          "encoder file (weights=PATH)")
    return LearnedExtractor(encoder, device=device, **kwargs)


def rebuild_kwargs(record: dict[str, Any]) -> dict[str, Any]:
    """``get_extractor`` arguments that rebuild the extractor of saved features from their provenance
    (the trained weights file and its SHA-256), for a reference loaded without its real images."""
    if not record.get("weights_file"):
        raise ConfigError("these learned features do not record their encoder's file; fit them again on the real set")
    return {"weights": record["weights_file"], "sha256": record.get("weights_sha256")}


def encoder_file(weights: str | Path | None) -> LearnedEncoder:
    """The trained encoder a network-by-name API (the atlas) names by its file: such APIs are not handed
    the real images, so they cannot train one, only read one trained before."""
    if weights in (None, "", "default", "random"):
        raise ConfigError("the 'learned' network is trained on a real set, which an atlas model factory is not "
                          "given: train it first (--features learned in genlens report, or "
                          "genlens.features.learned.train_encoder) and pass its file, --weights "
                          f"{learned_dir()}/<key>.pt")
    return load_encoder(weights)
