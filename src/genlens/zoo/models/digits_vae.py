"""A beta-VAE on scikit-learn's bundled 8x8 digits: the zoo's real model for the latent-manifold view.

The digits ship with scikit-learn (no download). Raising beta trades reconstruction for a posterior
closer to the prior, so the decoder stops using some latent dimensions; the manifold view must see
that as fewer active dimensions in its entropy spectrum. Models are trained once per config and
cached with :func:`genlens.zoo.models.store.load_or_train`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genlens._progress import track
from genlens.errors import ConfigError
from genlens.zoo.models.store import load_or_train

#: Side of the digit images.
DIGIT_SIZE = 8


def load_digits_tensor() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits as float32 ``(n, 1, 8, 8)`` in [0, 1] and their int64 labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(np.asarray(digits.images, dtype=np.float32) / 16.0).unsqueeze(1)
    return images, torch.from_numpy(np.asarray(digits.target, dtype=np.int64))


class DigitsVAE(nn.Module):
    """MLP encoder/decoder; ``decode(z)`` is the Bernoulli mean image ``(n, 1, 8, 8)`` in (0, 1)."""

    def __init__(self, latent_dim: int = 10, hidden: int = 256) -> None:
        super().__init__()
        pixels = DIGIT_SIZE * DIGIT_SIZE
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, pixels),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance."""
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, 1, DIGIT_SIZE, DIGIT_SIZE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean image of the decoder: the map whose Jacobian the manifold view analyses."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)


def beta_vae_loss(
    model: DigitsVAE, x: torch.Tensor, beta: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Negative ELBO with a beta-weighted KL, per image (Bernoulli likelihood, summed over pixels)."""
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps
    recon = F.binary_cross_entropy_with_logits(model.decode_logits(z), x, reduction="sum")
    kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return (recon + beta * kl) / x.shape[0]


def _config(beta: float, latent_dim: int, quick: bool, seed: int) -> dict[str, Any]:
    return {
        "data": "sklearn-digits-8x8",
        "beta": float(beta),
        "latent_dim": int(latent_dim),
        "hidden": 128 if quick else 256,
        "epochs": 150 if quick else 300,
        "batch_size": 128,
        "lr": 2e-3 if quick else 1e-3,
        "seed": int(seed),
    }


def vae(
    beta: float,
    latent_dim: int = 10,
    quick: bool = False,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    pretrained: bool = True,
) -> DigitsVAE:
    """A beta-VAE trained on the digits (shipped, else trained once and cached). ``quick``: a smaller one.

    Use ``model.decode`` as the decoder callable of :func:`genlens.manifold.analyze`.
    """
    if not beta > 0:
        raise ConfigError(f"beta must be positive, got {beta!r}")
    if latent_dim < 1:
        raise ConfigError(f"latent_dim must be at least 1, got {latent_dim!r}")
    config = _config(beta, latent_dim, quick, seed)

    def build() -> DigitsVAE:
        torch.manual_seed(seed)
        return DigitsVAE(latent_dim=latent_dim, hidden=config["hidden"])

    def train(model: DigitsVAE) -> None:
        _train(model, config)

    tag = "beta-vae-quick" if quick else "beta-vae"
    return load_or_train(tag, config, build, train, cache_dir=cache_dir, pretrained=pretrained)


def _train(model: DigitsVAE, config: dict[str, Any]) -> None:
    # Batches of 128 through a 256-wide MLP: threads cost more in sync than they save (and thrash on
    # a shared machine), so train on one and give the caller's setting back.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train_loop(model, config)
    finally:
        torch.set_num_threads(threads)


def _train_loop(model: DigitsVAE, config: dict[str, Any]) -> None:
    images, _ = load_digits_tensor()
    gen = torch.Generator().manual_seed(config["seed"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    model.train()
    batch = config["batch_size"]
    beta = config["beta"]
    for _ in track(range(config["epochs"]), f"training beta-VAE (beta={beta:g})"):
        perm = torch.randperm(images.shape[0], generator=gen)
        for start in range(0, images.shape[0], batch):
            x = images[perm[start : start + batch]]
            loss = beta_vae_loss(model, x, beta, generator=gen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
