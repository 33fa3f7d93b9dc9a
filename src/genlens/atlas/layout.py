"""2-D layout of activations: PCA, then UMAP (Distill's settings), normalised to the unit square.

Two modes. ``joint``: fit on a balanced pool (equal numbers from every set), then place all points,
so neither set dominates the map. ``reference``: fit on the real set only and ``transform`` the
others, so many checkpoints share one map -- at the price that points unlike any real point are
pulled towards real neighbours, which can hide regions only the generator produces.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from genlens.errors import ConfigError

Mode = Literal["joint", "reference"]
Method = Literal["umap", "pca"]


@dataclass(frozen=True)
class LayoutConfig:
    """Distill's atlas defaults: cosine metric, 50 neighbours, min_dist 0.05; PCA to 50 dims first.

    ``method="pca"`` (the first two principal components) is a fast, deterministic stand-in for
    quick looks and tests; it separates less than UMAP.
    """

    method: Method = "umap"
    mode: Mode = "joint"
    n_neighbors: int = 50
    min_dist: float = 0.05
    metric: str = "cosine"
    pca_dims: int = 50
    clip_percentile: float = 1.0
    margin: float = 0.1
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Layout:
    """A fitted projection ``activations -> unit square``; ``place`` maps any rows of the same layer."""

    def __init__(self, config: LayoutConfig, pca: Any, reducer: Any, lo: np.ndarray, hi: np.ndarray) -> None:
        self.config, self._pca, self._reducer, self._lo, self._hi = config, pca, reducer, lo, hi

    def _raw(self, values: np.ndarray) -> np.ndarray:
        reduced = self._pca.transform(values.astype(np.float32))
        if self._reducer is None:
            return reduced[:, :2]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._reducer.transform(reduced)

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
    if not np.isfinite(values).all():
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
    reducer = None
    reduced = pca.transform(values)
    if config.method == "umap":
        reducer = _umap(reduced[fit_rows], config)
        raw = np.empty((len(values), 2), dtype=np.float64)
        raw[fit_rows] = reducer.embedding_
        rest = np.setdiff1d(np.arange(len(values)), fit_rows)
        if len(rest):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw[rest] = reducer.transform(reduced[rest])
    else:
        raw = reduced[:, :2].astype(np.float64)
    lo, hi = _bounds(raw[fit_rows], config.clip_percentile, config.margin)
    layout = Layout(config, pca, reducer, lo, hi)
    return layout, layout._normalise(raw)


def _umap(reduced: np.ndarray, config: LayoutConfig) -> Any:
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that random_state disables parallelism: intended
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=min(config.n_neighbors, len(reduced) - 1),
            min_dist=config.min_dist,
            metric=config.metric,
            random_state=config.seed,
            # below 4096 points umap-learn otherwise computes exact neighbours through sklearn with a
            # Python-level callable metric: 29 s per fit at 4000 points, against ~2 s for NN-descent
            force_approximation_algorithm=True,
        )
        reducer.fit(reduced)
    return reducer
