"""Decoder Jacobians, batched over samples, in the three modes the manifold metrics need.

Samples are independent, so the Jacobian of a *batched* decoder applied to a one-hot tangent
(``e_i`` in every row) is column ``i`` of every sample's Jacobian at once: ``d`` batched JVPs give the
full Jacobian, ``D`` batched VJPs do too, and a JVP whose tangent row ``n`` is ``e_{k_n}`` gives one
column per sample. ``torch.func.vmap`` runs the ``d`` (or ``D``) passes as one vectorised pass.
This works for any decoder written for batches (``nn.Module`` in eval mode or a plain function);
it must not mix samples (no batch-norm in training mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

from genlens._torch_compat import load_jvp_decompositions
from genlens.errors import InputError

Decoder = Callable[..., torch.Tensor]
FullDirection = Literal["auto", "forward", "reverse"]


def flat_decoder(decoder: Decoder, condition: torch.Tensor | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``z (B, d) -> x (B, D)``: the decoder (conditioned on ``condition`` when given), flattened."""

    def g(z: torch.Tensor) -> torch.Tensor:
        x = decoder(z) if condition is None else decoder(z, condition)
        if isinstance(x, (tuple, list)):  # flows that return (x, log_det): the sample is first
            x = x[0]
        if not isinstance(x, torch.Tensor) or x.shape[0] != z.shape[0]:
            raise InputError(
                "the decoder must return a tensor with one row per latent vector; got "
                f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))} for z of shape {tuple(z.shape)}"
            )
        return x.reshape(z.shape[0], -1)

    return g


def _one_hots(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.eye(n, dtype=like.dtype, device=like.device)


def full_jacobian(
    g: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    output_dim: int,
    direction: FullDirection = "auto",
    vmap_chunk: int | None = None,
) -> torch.Tensor:
    """Jacobians ``(B, D, d)`` of ``g`` at each row of ``z``.

    ``auto`` picks forward mode (``d`` JVPs) when ``d <= D``, else reverse mode (``D`` VJPs): the
    cost is the smaller number of passes.
    """
    batch, latent_dim = z.shape
    if direction == "auto":
        direction = "forward" if latent_dim <= output_dim else "reverse"
    if direction == "forward":
        load_jvp_decompositions()
        basis = _one_hots(latent_dim, z)

        def column(e: torch.Tensor) -> torch.Tensor:
            return torch.func.jvp(g, (z,), (e.expand(batch, latent_dim),))[1]

        cols = _vmap_or_loop(column, basis, vmap_chunk)  # (d, B, D)
        return cols.permute(1, 2, 0)
    if direction == "reverse":
        _, pullback = torch.func.vjp(g, z)
        basis = _one_hots(output_dim, z)

        def row(e: torch.Tensor) -> torch.Tensor:
            return pullback(e.expand(batch, output_dim))[0]

        rows = _vmap_or_loop(row, basis, vmap_chunk)  # (D, B, d)
        return rows.permute(1, 0, 2)
    raise InputError(f"unknown Jacobian direction {direction!r}; use 'auto', 'forward' or 'reverse'")


def jacobian_column(
    g: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, axes: torch.Tensor
) -> torch.Tensor:
    """Column ``axes[n]`` of sample ``n``'s Jacobian, ``(B, D)``: one batched JVP."""
    load_jvp_decompositions()
    tangent = torch.nn.functional.one_hot(axes, z.shape[1]).to(z.dtype)
    return torch.func.jvp(g, (z,), (tangent,))[1]


def _vmap_or_loop(
    fn: Callable[[torch.Tensor], torch.Tensor], basis: torch.Tensor, chunk: int | None
) -> torch.Tensor:
    """``vmap(fn)(basis)``; decoders with ops vmap cannot batch fall back to one pass per basis row."""
    try:
        return torch.func.vmap(fn, chunk_size=chunk)(basis)
    except (RuntimeError, NotImplementedError) as err:
        if "vmap" not in str(err).lower() and "batching rule" not in str(err).lower():
            raise
        return torch.stack([fn(e) for e in basis])
