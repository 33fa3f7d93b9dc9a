"""Streaming, mergeable Gaussian statistics (mean and covariance) of a feature set, in float64.

Statistics are kept as ``(n, mean, M2)`` where ``M2 = sum_i (x_i - mean)(x_i - mean)^T`` is the sum of
*centred* outer products, and two partial results are combined with Chan, Golub & LeVeque's pairwise
update::

    delta = mean_b - mean_a
    mean  = mean_a + delta * n_b / n
    M2    = M2_a + M2_b + outer(delta, delta) * n_a * n_b / n

Why not the one-pass formula ``cov = (sum x x^T - n mean mean^T) / (n - 1)`` that torchmetrics uses:
it subtracts two large, nearly equal numbers. When the features' mean is large compared with their
spread (post-ReLU pool features, pixel values, features with an offset) the difference loses most of
its significant digits even in float64, and can produce a covariance that is not even positive
semi-definite. Centred sums never form those large terms, so merging any number of batches or
processes gives the covariance of the concatenated data to rounding error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlens._fs import atomic_path
from genlens.errors import ConfigError, InputError, TooFewSamplesError
from genlens.metrics._validate import ArrayLike, as_features, check_positive_int, check_same_dim, pick_device

_FORMAT = "genlens.GaussianStats/1"


@dataclass(frozen=True, eq=False)
class GaussianStats:
    """Sample count, mean ``(d,)`` and centred sum of outer products ``M2`` ``(d, d)``, all float64.

    Immutable: :meth:`update` and :meth:`merge` return new objects, so a partial result can be kept,
    saved or sent to another process while accumulation continues.
    """

    n: int
    mean: torch.Tensor
    m2: torch.Tensor

    # ----------------------------------------------------------------- construction
    @classmethod
    def empty(cls, dim: int, device: str | torch.device | None = None) -> GaussianStats:
        """Statistics of zero samples in dimension ``dim`` (the identity of :meth:`merge`)."""
        dim = check_positive_int(dim, "dim")
        dev = pick_device(device=device)
        return cls(0, torch.zeros(dim, dtype=torch.float64, device=dev),
                   torch.zeros(dim, dim, dtype=torch.float64, device=dev))

    @classmethod
    def from_features(
        cls,
        features: ArrayLike,
        *,
        batch_size: int = 8192,
        device: str | torch.device | None = None,
        name: str = "features",
    ) -> GaussianStats:
        """Statistics of an ``(n, d)`` array, converted to float64 one batch at a time.

        Batching bounds the float64 copy to ``batch_size * d`` values; the result does not depend on
        ``batch_size`` beyond rounding error.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        dev = pick_device(features, device=device)
        rows = features if isinstance(features, torch.Tensor) else np.asarray(features)
        if rows.ndim != 2:
            raise InputError(
                f"{name}: expected a 2-D (n, d) feature array, got shape {tuple(rows.shape)}; "
                "flatten each sample to one row."
            )
        if rows.shape[0] == 0:
            raise TooFewSamplesError(f"Gaussian statistics ({name})", 0, 1)
        stats = cls.empty(int(rows.shape[1]), device=dev)
        for start in range(0, rows.shape[0], batch_size):
            batch = as_features(rows[start:start + batch_size], f"{name}[{start}:]", device=dev)
            stats = stats.merge(cls._of_batch(batch))
        return stats

    @classmethod
    def from_moments(
        cls, mean: ArrayLike, covariance: ArrayLike, n: int, device: str | torch.device | None = None
    ) -> GaussianStats:
        """Statistics from a known mean and covariance (ddof 1), e.g. pytorch-fid's ``mu``/``sigma`` files."""
        n = check_positive_int(n, "n", minimum=2)
        dev = pick_device(mean, covariance, device=device)
        mean_row = mean.reshape(1, -1) if isinstance(mean, torch.Tensor) else np.asarray(mean).reshape(1, -1)
        mu = as_features(mean_row, "mean", device=dev)[0]
        cov = as_features(covariance, "covariance", device=dev)
        if cov.shape != (mu.shape[0], mu.shape[0]):
            raise InputError(f"covariance has shape {tuple(cov.shape)} but the mean has d={mu.shape[0]}.")
        if not bool(torch.allclose(cov, cov.T, rtol=1e-6, atol=1e-12)):
            raise InputError("covariance is not symmetric; pass a covariance matrix, not a factor of one.")
        return cls(n, mu, (cov + cov.T) * (0.5 * (n - 1)))

    @staticmethod
    def _of_batch(batch: torch.Tensor) -> GaussianStats:
        """Two-pass statistics of one in-memory float64 batch."""
        mean = batch.mean(dim=0)
        centred = batch - mean
        m2 = centred.T @ centred
        return GaussianStats(int(batch.shape[0]), mean, (m2 + m2.T) * 0.5)

    def update(self, batch: ArrayLike) -> GaussianStats:
        """These statistics with the rows of ``batch`` added."""
        rows = as_features(batch, "batch", device=self.mean.device)
        check_same_dim(self.dim, rows, ("accumulated statistics", "batch"))
        return self.merge(self._of_batch(rows))

    def merge(self, other: GaussianStats) -> GaussianStats:
        """Statistics of the union of both sample sets (Chan et al. pairwise update)."""
        if not isinstance(other, GaussianStats):
            raise InputError(f"can only merge GaussianStats, got {type(other).__name__}.")
        check_same_dim(self.dim, other.dim, ("these statistics", "the merged statistics"))
        if other.n == 0:
            return self
        other = other.to(self.mean.device)
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + torch.outer(delta, delta) * (self.n * other.n / n)
        return GaussianStats(n, mean, m2)

    # ----------------------------------------------------------------- views
    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def covariance(self, ddof: int = 1) -> torch.Tensor:
        """Sample covariance ``M2 / (n - ddof)``; ``ddof=1`` matches ``np.cov`` and pytorch-fid."""
        if self.n < ddof + 1:
            raise TooFewSamplesError("a covariance estimate", self.n, ddof + 1)
        return self.m2 / (self.n - ddof)

    def to(self, device: str | torch.device) -> GaussianStats:
        """The same statistics on another device."""
        dev = torch.device(device)
        if self.mean.device == dev:
            return self
        return GaussianStats(self.n, self.mean.to(dev), self.m2.to(dev))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (the full matrices belong in :meth:`save`, not in a report)."""
        return {"n": self.n, "dim": self.dim,
                "trace_covariance": float(torch.trace(self.covariance())) if self.n > 1 else None}

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write to ``.npz`` atomically (a reader never sees half a file)."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, format=np.array(_FORMAT), n=np.array(self.n, dtype=np.int64),
                     mean=self.mean.cpu().numpy(), m2=self.m2.cpu().numpy())

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device | None = None) -> GaussianStats:
        """Read statistics written by :meth:`save` (no pickle)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {k: data[k] for k in ("format", "n", "mean", "m2")}
        except FileNotFoundError as exc:
            raise InputError(f"Gaussian statistics file not found: {path}") from exc
        except (KeyError, ValueError, OSError) as exc:
            raise InputError(
                f"{path} is not a genlens GaussianStats file ({exc}); write one with GaussianStats.save()."
            ) from exc
        if str(fields["format"]) != _FORMAT:
            raise InputError(f"{path}: unsupported statistics format {str(fields['format'])!r}.")
        mean, m2, n = fields["mean"], fields["m2"], int(fields["n"])
        if mean.ndim != 1 or m2.shape != (mean.shape[0], mean.shape[0]) or n < 0:
            raise InputError(f"{path}: inconsistent shapes mean {mean.shape}, m2 {m2.shape}, n {n}.")
        dev = pick_device(device=device)
        return cls(n, torch.from_numpy(mean).to(dev, torch.float64), torch.from_numpy(m2).to(dev, torch.float64))

    # ----------------------------------------------------------------- distributed
    def all_reduce(self, group: Any = None) -> GaussianStats:
        """Statistics of the union over all ranks of ``torch.distributed``; every rank gets the same result.

        Ranks exchange their small ``(n, mean)`` with ``all_gather``, each computes the global mean the
        same way, and the centred terms ``M2_r + n_r (mean_r - mean)(mean_r - mean)^T`` are summed with
        one ``all_reduce`` -- Chan's update for many groups at once, with one ``d x d`` message per rank.
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ConfigError("GaussianStats.all_reduce needs torch.distributed.init_process_group() first.")
        world = dist.get_world_size(group)
        comm = torch.device("cpu") if dist.get_backend(group) == "gloo" else self.mean.device
        header = torch.tensor([float(self.n), float(self.dim)], dtype=torch.float64, device=comm)
        headers = [torch.empty_like(header) for _ in range(world)]
        dist.all_gather(headers, header, group=group)
        dims = sorted({int(h[1]) for h in headers})
        if len(dims) != 1:
            raise InputError(f"ranks hold statistics of different dimensions {dims}; use one extractor everywhere.")
        means = [torch.empty_like(self.mean, device=comm) for _ in range(world)]
        dist.all_gather(means, self.mean.to(comm), group=group)
        counts = [int(h[0]) for h in headers]
        total = sum(counts)
        if total == 0:
            return self
        mean = sum((m * (c / total) for m, c in zip(means, counts)), torch.zeros_like(means[0]))
        delta = self.mean.to(comm) - mean
        local = self.m2.to(comm) + torch.outer(delta, delta) * float(self.n)
        dist.all_reduce(local, op=dist.ReduceOp.SUM, group=group)
        dev = self.mean.device
        return GaussianStats(total, mean.to(dev), local.to(dev))
