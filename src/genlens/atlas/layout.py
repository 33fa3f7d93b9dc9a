"""2-D layout of activations: PCA, then UMAP (Distill's settings), normalised to the unit square.

Two modes. ``joint``: fit on a balanced pool (equal numbers from every set), then place all points,
so neither set dominates the map. ``reference``: fit on the real set only and ``transform`` the
others, so many checkpoints share one map -- at the price that points unlike any real point are
pulled towards real neighbours, which can hide regions only the generator produces.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from genlens._finite import all_finite
from genlens._torch_compat import torch_threads_kept
from genlens.errors import ConfigError

Mode = Literal["joint", "reference"]
Method = Literal["umap", "pca"]


@dataclass(frozen=True)
class LayoutConfig:
    """Distill's atlas defaults: cosine metric, 50 neighbours, min_dist 0.05; PCA to 50 dims first.

    ``n_epochs=200`` is what umap-learn itself uses above 10,000 points; below that it defaults to
    500, which made the layout 85% of an atlas's time while the map is only read on a coarse grid.
    The neighbour graph is exact (:func:`cosine_neighbours`), not NN-descent's approximation: at
    atlas sizes it is a few matrix products, and it spares every process the ~20 s of just-in-time
    compilation NN-descent costs on first use.

    ``method="pca"`` (the first two principal components) is a fast, deterministic stand-in for
    quick looks and tests; it separates less than UMAP.
    """

    method: Method = "umap"
    mode: Mode = "joint"
    n_neighbors: int = 50
    min_dist: float = 0.05
    n_epochs: int = 200
    metric: str = "cosine"
    pca_dims: int = 50
    clip_percentile: float = 1.0
    margin: float = 0.1
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Layout:
    """A fitted projection ``activations -> unit square``; ``place`` maps any rows of the same layer.

    A UMAP map places rows it was not fitted on from their nearest fitted rows
    (:class:`AnchoredLayout`, the rule tracking uses), so placing is deterministic and needs no
    neighbour-search index."""

    def __init__(self, config: LayoutConfig, pca: Any, anchors: AnchoredLayout | None, lo: np.ndarray,
                 hi: np.ndarray) -> None:
        self.config, self._pca, self._anchors, self._lo, self._hi = config, pca, anchors, lo, hi

    def _raw(self, values: np.ndarray) -> np.ndarray:
        if self._anchors is not None:
            return self._anchors.place(values).astype(np.float64)
        return self._pca.transform(values.astype(np.float32))[:, :2]

    def _normalise(self, raw: np.ndarray) -> np.ndarray:
        return np.clip((raw - self._lo) / (self._hi - self._lo), 0.0, 1.0)

    def place(self, values: np.ndarray) -> np.ndarray:
        """Coordinates in [0, 1]^2 of new rows (out-of-range points are clamped to the border)."""
        return self._normalise(self._raw(values))


def _pca(values: np.ndarray, dims: int, seed: int) -> Any:
    from sklearn.decomposition import PCA

    dims = max(2, min(dims, values.shape[1], values.shape[0] - 1))
    return PCA(n_components=dims, random_state=seed, svd_solver="auto").fit(values)


def _bounds(raw: np.ndarray, percentile: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-clipped box plus a margin, so a few outliers do not squash the map (lucid)."""
    lo = np.percentile(raw, percentile, axis=0)
    hi = np.percentile(raw, 100.0 - percentile, axis=0)
    span = np.maximum(hi - lo, 1e-12)
    return lo - margin * span, hi + margin * span


def fit_layout(values: np.ndarray, set_index: np.ndarray, config: LayoutConfig = LayoutConfig()) -> tuple[Layout, np.ndarray]:
    """Fit a layout on ``values`` (rows labelled by ``set_index``, real = 0) and return it with the
    coordinates of every row in the unit square."""
    if config.mode not in ("joint", "reference"):
        raise ConfigError(f"layout mode must be 'joint' or 'reference', got {config.mode!r}")
    if config.method not in ("umap", "pca"):
        raise ConfigError(f"layout method must be 'umap' or 'pca', got {config.method!r}")
    values = np.asarray(values, dtype=np.float32)
    if not all_finite(values):
        raise ConfigError("activations contain NaN or Inf; check the model and its input range")
    rng = np.random.default_rng(config.seed)
    if config.mode == "reference":
        fit_rows = np.flatnonzero(set_index == 0)
    else:  # balanced pool: the same number of rows from every set
        groups = [np.flatnonzero(set_index == s) for s in np.unique(set_index)]
        m = min(len(g) for g in groups)
        fit_rows = np.sort(np.concatenate([rng.choice(g, m, replace=False) for g in groups]))
    if len(fit_rows) < 10:
        raise ConfigError(f"a layout needs at least 10 activations to fit, got {len(fit_rows)}")
    pca = _pca(values[fit_rows], config.pca_dims, config.seed)
    anchors = None
    if config.method == "umap":
        reduced = pca.transform(values[fit_rows])
        embedding = _umap(reduced, config)
        anchors = AnchoredLayout(pca.mean_.astype(np.float32), pca.components_.astype(np.float32), _unit(reduced),
                                 embedding.astype(np.float32), np.zeros(len(fit_rows), dtype=np.int64),
                                 int(min(AnchoredLayout.k, len(fit_rows) - 1)))
        raw = np.empty((len(values), 2), dtype=np.float64)
        raw[fit_rows] = embedding
        rest = np.setdiff1d(np.arange(len(values)), fit_rows)
        if len(rest):
            raw[rest] = anchors.place(values[rest])
    else:
        raw = pca.transform(values)[:, :2].astype(np.float64)
    lo, hi = _bounds(raw[fit_rows], config.clip_percentile, config.margin)
    layout = Layout(config, pca, anchors, lo, hi)
    return layout, layout._normalise(raw)


def cosine_neighbours(values: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours of every row under the cosine distance, each row first in its own list.

    Returns ``(indices int64 (n, k), distances float32 (n, k))`` sorted by distance, as umap-learn
    takes them (``precomputed_knn``). Memory is ``chunk x n``, not ``n x n``."""
    import torch

    unit = torch.from_numpy(_unit(np.asarray(values, dtype=np.float32)))
    n = unit.shape[0]
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        similarity = unit[lo:hi] @ unit.T
        rows = torch.arange(hi - lo)
        similarity[rows, rows + lo] = float("inf")  # a row is its own nearest neighbour, even among duplicates
        top, near = torch.topk(similarity, k, dim=1)
        top[:, 0] = 1.0
        indices[lo:hi] = near.numpy()
        distances[lo:hi] = (1.0 - top).clamp_(min=0.0).numpy()
    return indices, distances


def _umap(reduced: np.ndarray, config: LayoutConfig) -> np.ndarray:
    """The 2-D UMAP embedding of ``reduced`` on its exact cosine neighbour graph."""
    import umap

    if config.metric != "cosine":
        raise ConfigError(f"the atlas layout measures cosine distances; got metric {config.metric!r}")
    k = min(config.n_neighbors, len(reduced) - 1)
    knn = cosine_neighbours(reduced, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that random_state disables parallelism: intended
        reducer = umap.UMAP(n_components=2, n_neighbors=k, min_dist=config.min_dist, n_epochs=config.n_epochs,
                            metric=config.metric, random_state=config.seed, precomputed_knn=knn)
        with torch_threads_kept():
            return np.asarray(reducer.fit_transform(reduced), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class AnchoredLayout:
    """A fitted map frozen into plain arrays: any row is placed from its nearest real anchors.

    Tracking compares hundreds of checkpoints on one map, built once and loaded by every process. A
    UMAP reducer can only be kept by pickling it, and its ``transform`` runs a stochastic
    optimisation, so instead each new row goes to the similarity-weighted mean position of its ``k``
    nearest anchors (UMAP's own initialisation of ``transform``), in the PCA space the map was fitted
    in, under the cosine metric. Real rows are placed by the same rule with the anchors of their own
    image left out, so real and generated rows are treated alike and their histograms compare fairly.
    """

    mean: np.ndarray  # (D,) PCA mean
    components: np.ndarray  # (p, D) PCA axes
    anchors: np.ndarray  # (m, p) reduced real rows, unit length
    coords: np.ndarray  # (m, 2) their fitted map positions in [0, 1]^2
    groups: np.ndarray  # (m,) image id of each anchor
    k: int = 15

    @classmethod
    def fit(cls, values: np.ndarray, groups: np.ndarray, config: LayoutConfig = LayoutConfig(),
            k: int = 15) -> AnchoredLayout:
        """Fit ``config``'s map on real ``values`` (rows of images ``groups``) and freeze it."""
        values = np.asarray(values, dtype=np.float32)
        layout, coords = fit_layout(values, np.zeros(len(values), dtype=np.int8), replace(config, mode="reference"))
        pca = layout._pca
        mean, components = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
        return cls(mean, components, _unit((values - mean) @ components.T), coords.astype(np.float32),
                   np.asarray(groups, dtype=np.int64), int(min(k, len(values) - 1)))

    def place(self, values: np.ndarray, groups: np.ndarray | None = None, chunk: int = 2048) -> np.ndarray:
        """Positions ``(n, 2)`` of ``values``; with ``groups``, anchors of the row's own group are skipped."""
        reduced = _unit((np.asarray(values, dtype=np.float32) - self.mean) @ self.components.T)
        out = np.empty((len(reduced), 2), dtype=np.float32)
        for lo in range(0, len(reduced), chunk):
            sim = reduced[lo : lo + chunk] @ self.anchors.T  # cosine similarity
            if groups is not None:
                sim[np.asarray(groups[lo : lo + chunk])[:, None] == self.groups[None, :]] = -np.inf
            near = np.argpartition(-sim, self.k - 1, axis=1)[:, : self.k]
            dist = 1.0 - np.take_along_axis(sim, near, axis=1)
            gap = dist - dist.min(axis=1, keepdims=True)
            weight = np.exp(-gap / (gap.mean(axis=1, keepdims=True) + 1e-12))
            out[lo : lo + chunk] = np.einsum("nk,nkc->nc", weight, self.coords[near]) / weight.sum(axis=1, keepdims=True)
        return out

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {f"{prefix}{name}": getattr(self, name) for name in ("mean", "components", "anchors", "coords", "groups")} | {
            f"{prefix}k": np.asarray(self.k)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "") -> AnchoredLayout:
        fields = ("mean", "components", "anchors", "coords", "groups")
        return cls(*(np.asarray(arrays[prefix + name]) for name in fields), k=int(arrays[prefix + "k"]))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
