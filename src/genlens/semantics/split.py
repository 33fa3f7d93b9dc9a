"""How a generator is cut for layer inversion: ``G = G_f(g_n(...g_1(z)))``.

Bau et al. invert only the later layers ``G_f``: ``range(G)`` is a subset of ``range(G_f)``, so what
``G_f`` cannot draw, ``G`` cannot draw either, and ``G_f`` is far easier to invert than all of ``G``.
A :class:`GeneratorSplit` holds the front layers ``g_1..g_n`` (each later given a perturbation
``delta_i``) and the head ``G_f``. Build one from explicit modules, or from an ``nn.Sequential``
and the name of the last front block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from genlens.errors import ConfigError


@dataclass
class GeneratorSplit:
    """Front layers ``g_1..g_n``, head ``G_f`` and the latent shape (without the batch dimension).

    The generator's output is an image batch in ``[-1, 1]``, shape ``(B, 3, H, W)``. Its modules are put
    in eval mode and their parameters frozen (only the perturbations are optimised): pass a copy of a
    generator that is still training.
    """

    layers: Sequence[nn.Module]
    head: nn.Module
    latent_shape: tuple[int, ...]
    layer_names: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("a generator split needs at least one front layer g_1")
        self.layers = list(self.layers)
        if not self.layer_names:
            self.layer_names = [f"g{i + 1}" for i in range(len(self.layers))]
        for module in [*self.layers, self.head]:
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)

    @classmethod
    def from_sequential(
        cls, generator: nn.Sequential, split: str, latent_shape: Sequence[int]
    ) -> "GeneratorSplit":
        """Front = the named children up to and including ``split``; head = the children after it."""
        if not isinstance(generator, nn.Sequential):
            raise ConfigError(
                f"a split point by name needs an nn.Sequential generator, got {type(generator).__name__}; "
                "pass the front layers and the head explicitly instead"
            )
        names = [name for name, _ in generator.named_children()]
        if split not in names:
            raise ConfigError(f"split point {split!r} is not a block of the generator; blocks: {names}")
        cut = names.index(split) + 1
        if cut == len(names):
            raise ConfigError(f"split point {split!r} is the last block: nothing is left for G_f; blocks: {names}")
        children = list(generator.children())
        return cls(
            layers=children[:cut],
            head=nn.Sequential(*children[cut:]),
            latent_shape=tuple(int(s) for s in latent_shape),
            layer_names=names[:cut],
        )

    @property
    def device(self) -> torch.device:
        for p in self.head.parameters():
            return p.device
        return torch.device("cpu")

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``z ~ N(0, I)`` of the generator's latent shape."""
        z = torch.randn((n, *self.latent_shape), generator=generator)
        return z.to(self.device)

    def front(self, z: torch.Tensor, deltas: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """``[r_1, ..., r_n]`` with ``r_i = delta_i + g_i(r_{i-1})`` (no deltas: the plain activations)."""
        outs = []
        r = z
        for i, layer in enumerate(self.layers):
            r = layer(r)
            if deltas is not None:
                r = r + deltas[i]
            outs.append(r)
        return outs

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """The whole generator ``G(z)``."""
        return self.head(self.front(z)[-1])

    @torch.no_grad()
    def shapes(self) -> list[tuple[int, ...]]:
        """Shapes (no batch dim) of ``z, r_1, ..., r_n, x``, found by one probe forward pass."""
        z = self.sample_latents(2, torch.Generator().manual_seed(0))
        rs = self.front(z)
        x = self.head(rs[-1])
        return [tuple(t.shape[1:]) for t in (z, *rs, x)]
