"""The latent-manifold view's result: plain arrays in latent order, JSON-safe via ``to_dict``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genlens._json import json_safe


@dataclass(frozen=True, eq=False)
class ManifoldResult:
    """Manifold entropic metrics of one decoder (class-averaged when ``classes`` is set).

    All per-dimension arrays are in latent order; ``order`` ranks dimensions (active first, by
    descending entropy). Entropies include ``h0`` per dimension when ``h0 > 0``. ``total_entropy``
    and ``total_correlation`` refer to the *active* dimensions (``None`` when not computable in
    this mode); pairwise MI of inactive dimensions is 0.
    """

    latent_dim: int
    output_shape: tuple[int, ...]
    n: int
    mode: str
    h0: float
    entropy: np.ndarray
    entropy_ci: np.ndarray
    active: np.ndarray
    order: np.ndarray
    total_entropy: float | None
    total_entropy_ci: tuple[float, float] | None
    total_entropy_source: str | None
    total_correlation: float | None
    total_correlation_ci: tuple[float, float] | None
    pairwise_mi: np.ndarray | None
    pairwise_mi_ci: np.ndarray | None
    column_means: np.ndarray
    output_range: float
    inactive_tol: float
    seed: int
    n_boot: int
    classes: tuple[str, ...] = ()
    class_entropy: np.ndarray | None = None
    class_column_means: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def inactive(self) -> np.ndarray:
        """Indices of inactive latent dimensions."""
        return np.flatnonzero(~self.active)

    @property
    def n_active(self) -> int:
        return int(self.active.sum())

    @property
    def sum_entropy(self) -> float:
        """``sum_i H_i`` over active dimensions: ``total_entropy + total_correlation``."""
        return float(self.entropy[self.active].sum())

    def top_pairs(self, k: int = 5) -> list[tuple[int, int, float]]:
        """The ``k`` most entangled pairs ``(i, j, I_ij)``, ``i < j``, by pairwise MI."""
        if self.pairwise_mi is None:
            return []
        i, j = np.triu_indices(self.latent_dim, k=1)
        values = self.pairwise_mi[i, j]
        best = np.argsort(-values, kind="stable")[:k]
        return [(int(i[b]), int(j[b]), float(values[b])) for b in best if values[b] > 1e-6]

    def to_dict(self) -> dict[str, Any]:
        """The issue's JSON schema (``entropy``, ``order``, ``total_entropy``, ``total_correlation``,
        ``pairwise_mi``, ``inactive``) plus intervals and the settings that reproduce the numbers."""
        out: dict[str, Any] = {
            "entropy": self.entropy,
            "order": self.order,
            "total_entropy": self.total_entropy,
            "total_correlation": self.total_correlation,
            "pairwise_mi": self.pairwise_mi,
            "inactive": self.inactive,
            "active": self.active.astype(bool),
            "sum_entropy": self.sum_entropy,
            "entropy_ci95": self.entropy_ci,
            "total_entropy_ci95": self.total_entropy_ci,
            "total_correlation_ci95": self.total_correlation_ci,
            "pairwise_mi_ci95": self.pairwise_mi_ci,
            "top_pairs": [{"i": i, "j": j, "mi": v} for i, j, v in self.top_pairs()],
            "total_entropy_source": self.total_entropy_source,
            "units": "nats",
            "h0": self.h0,
            "h0_included": self.h0 > 0,
            "latent_dim": self.latent_dim,
            "output_shape": list(self.output_shape),
            "n": self.n,
            "mode": self.mode,
            "output_range": self.output_range,
            "inactive_tol": self.inactive_tol,
            "seed": self.seed,
            "n_boot": self.n_boot,
            "classes": list(self.classes),
            "class_entropy": self.class_entropy,
            **self.meta,
        }
        return json_safe(out)


@dataclass(frozen=True, eq=False)
class CrossManifoldResult:
    """Cross-model pairwise manifold MI ``I_ij = -1/2 E log(1 - cos^2(J^a_i, J^b_j))`` at shared data
    points, beside the Pearson correlation of the two models' latents (rows: model a, columns: b)."""

    names: tuple[str, str]
    mi: np.ndarray
    mi_ci: np.ndarray
    pearson: np.ndarray
    order_a: np.ndarray
    order_b: np.ndarray
    active_a: np.ndarray
    active_b: np.ndarray
    n: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "names": list(self.names),
                "cross_mi": self.mi,
                "cross_mi_ci95": self.mi_ci,
                "pearson": self.pearson,
                "order_a": self.order_a,
                "order_b": self.order_b,
                "inactive_a": np.flatnonzero(~self.active_a),
                "inactive_b": np.flatnonzero(~self.active_b),
                "n": self.n,
                "seed": self.seed,
                "units": "nats",
            }
        )
