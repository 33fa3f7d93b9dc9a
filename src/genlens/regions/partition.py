"""Pixel clusters from a CKA matrix, and the :class:`PixelPartition` that is reused across checkpoints.

Clustering follows the paper: average linkage on Euclidean distances between rows of the CKA matrix
(each pixel's dependence profile); ``distance="one_minus_cka"`` clusters on ``1 - CKA`` instead.
With ``k=None`` the number of clusters is chosen by the **largest-gap rule**: cut the dendrogram where
the next merge height jumps the most, over ``2 <= k <= k_max``. Independent pixel blocks merge
internally at small heights and with each other only at large ones, so the jump sits exactly at the
number of blocks (tested on planted blocks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from scipy.cluster.hierarchy import cut_tree, linkage

from genlens._fs import atomic_path, atomic_write_text
from genlens._json import json_safe
from genlens.errors import ConfigError, InputError

Distance = Literal["profile", "one_minus_cka"]
FORMAT = "genlens.pixel_partition"
VERSION = 1
DEFAULT_K_MAX = 12


@dataclass(frozen=True, eq=False)
class PixelPartition:
    """Pixel clusters of an ``H x W`` grid, with the CKA evidence they came from.

    ``labels`` holds cluster ids ``0..k-1`` numbered by first appearance in raster order.
    ``median_sq_dist`` and ``bandwidth_scale`` fix the RBF bandwidth, so a partition reused for every
    checkpoint also reuses the reference bandwidth. ``cka`` (raster order) is kept in ``.npz`` files;
    JSON files keep only the cluster-by-cluster mean (``block_cka``) to stay small.
    """

    labels: np.ndarray
    max_cross_cka: float
    block_cka: np.ndarray
    median_sq_dist: float | None = None
    bandwidth_scale: float = 1.0
    cka: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> tuple[int, int]:
        return (int(self.labels.shape[0]), int(self.labels.shape[1]))

    @property
    def k(self) -> int:
        return int(self.labels.max()) + 1

    @property
    def sizes(self) -> np.ndarray:
        """Pixels per cluster, ``(k,)``."""
        return np.bincount(self.labels.ravel(), minlength=self.k)

    @property
    def order(self) -> np.ndarray:
        """Raster pixel indices sorted by cluster (stable), for drawing the block-ordered CKA matrix."""
        return np.argsort(self.labels.ravel(), kind="stable")

    def ordered_cka(self) -> np.ndarray | None:
        """The CKA matrix with pixels grouped by cluster (``None`` when loaded from JSON)."""
        if self.cka is None:
            return None
        o = self.order
        return self.cka[np.ix_(o, o)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (the schema of the CLI's ``partition`` key, plus provenance)."""
        return json_safe(
            {
                "k": self.k,
                "image_size": list(self.image_size),
                "labels": self.labels.astype(int).tolist(),
                "sizes": self.sizes.astype(int).tolist(),
                "max_cross_cka": self.max_cross_cka,
                "block_cka": self.block_cka,
                "median_sq_dist": self.median_sq_dist,
                "bandwidth_scale": self.bandwidth_scale,
                "meta": self.meta,
            }
        )

    def save(self, path: str | Path) -> Path:
        """Write to ``.npz`` (with the full CKA matrix) or ``.json`` (without), atomically."""
        path = Path(path)
        if path.suffix == ".json":
            atomic_write_text(path, json.dumps({"format": FORMAT, "version": VERSION, **self.to_dict()}, indent=1))
        elif path.suffix == ".npz":
            arrays: dict[str, np.ndarray] = {
                "labels": self.labels.astype(np.int64),
                "block_cka": self.block_cka.astype(np.float64),
                "header": np.array(json.dumps({"format": FORMAT, "version": VERSION, **self._scalars()})),
            }
            if self.cka is not None:
                arrays["cka"] = self.cka.astype(np.float32)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, **arrays)
        else:
            raise ConfigError(f"partition file {path} must end in .npz or .json")
        return path

    @classmethod
    def load(cls, path: str | Path) -> PixelPartition:
        """Read a partition written by :meth:`save` (no pickle is ever loaded)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"partition file {path} does not exist")
        try:
            if path.suffix == ".json":
                data = json.loads(path.read_text())
                header, labels = data, np.asarray(data["labels"], dtype=np.int64)
                block, cka = np.asarray(data["block_cka"], dtype=np.float64), None
            elif path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    header = json.loads(str(z["header"]))
                    labels, block = z["labels"], z["block_cka"]
                    cka = z["cka"].astype(np.float64) if "cka" in z.files else None
            else:
                raise ConfigError(f"partition file {path} must end in .npz or .json")
            if header.get("format") != FORMAT:
                raise InputError(f"{path} is not a genlens pixel partition (format {header.get('format')!r})")
            part = cls(
                labels=labels,
                max_cross_cka=float(header["max_cross_cka"]),
                block_cka=block,
                median_sq_dist=header.get("median_sq_dist"),
                bandwidth_scale=float(header.get("bandwidth_scale", 1.0)),
                cka=cka,
                meta=dict(header.get("meta", {})),
            )
        except (KeyError, ValueError, TypeError, OSError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"partition file {path} is unreadable or incomplete: {err}") from err
        _check_labels(part.labels, path)
        return part

    def _scalars(self) -> dict[str, Any]:
        return json_safe(
            {
                "max_cross_cka": self.max_cross_cka,
                "median_sq_dist": self.median_sq_dist,
                "bandwidth_scale": self.bandwidth_scale,
                "meta": self.meta,
            }
        )


def partition_pixels(
    cka: np.ndarray,
    image_size: tuple[int, int],
    k: int | None = None,
    distance: Distance = "profile",
    k_max: int = DEFAULT_K_MAX,
    median_sq_dist: float | None = None,
    bandwidth_scale: float = 1.0,
    meta: dict[str, Any] | None = None,
) -> PixelPartition:
    """Average-linkage clusters of the ``d = H*W`` pixels of a ``(d, d)`` CKA matrix.

    ``k=None`` applies the largest-gap rule (module docstring) over ``2..k_max``.
    """
    cka = np.asarray(cka, dtype=np.float64)
    h, w = int(image_size[0]), int(image_size[1])
    d = h * w
    if cka.shape != (d, d):
        raise InputError(f"CKA matrix has shape {cka.shape}, expected ({d}, {d}) for a {h}x{w} grid")
    if not np.isfinite(cka).all():
        raise InputError("CKA matrix contains NaN or infinite values")
    if k is not None and not (1 <= int(k) <= d):
        raise ConfigError(f"k={k} clusters is impossible for {d} pixels; choose 1 <= k <= {d}")
    if distance not in ("profile", "one_minus_cka"):
        raise ConfigError(f"distance must be 'profile' or 'one_minus_cka', got {distance!r}")
    if d == 1:
        labels = np.zeros(1, dtype=np.int64)
        chosen = 1
    else:
        z = linkage(_condensed_distances(cka, distance), method="average")
        chosen = int(k) if k is not None else choose_k(z[:, 2], k_max)
        labels = cut_tree(z, n_clusters=chosen).ravel().astype(np.int64)
    labels = _relabel_by_first_appearance(labels)
    info = {"distance": distance, "k_rule": "given" if k is not None else f"largest_gap(k_max={k_max})"}
    return PixelPartition(
        labels=labels.reshape(h, w),
        max_cross_cka=max_cross_cka(cka, labels),
        block_cka=block_mean_cka(cka, labels),
        median_sq_dist=median_sq_dist,
        bandwidth_scale=bandwidth_scale,
        cka=cka,
        meta={**info, **(meta or {})},
    )


def choose_k(merge_heights: np.ndarray, k_max: int = DEFAULT_K_MAX) -> int:
    """Largest-gap rule: the ``k`` in ``2..k_max`` before the biggest jump in merge height.

    With ``m`` merges done there are ``d - m`` clusters; stopping at ``k`` clusters skips the merge of
    height ``h[d-k]`` after the last taken one ``h[d-k-1]``. Ties go to the smaller ``k``.
    """
    h = np.sort(np.asarray(merge_heights, dtype=np.float64))
    d = h.size + 1
    upper = min(int(k_max), d - 1)
    if upper < 2:
        return min(2, d)
    ks = np.arange(2, upper + 1)
    gaps = h[d - ks] - h[d - ks - 1]
    return int(ks[np.argmax(gaps)])


def max_cross_cka(cka: np.ndarray, labels: np.ndarray) -> float:
    """Largest CKA between two pixels in different clusters (the theorem wants it near 0)."""
    labels = np.asarray(labels).ravel()
    best = 0.0
    for j in np.unique(labels):
        inside = labels == j
        if inside.all():
            continue
        best = max(best, float(cka[np.ix_(inside, ~inside)].max()))
    return best


def block_mean_cka(cka: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(k, k)`` mean CKA between (and, on the diagonal, within) clusters."""
    labels = np.asarray(labels).ravel()
    k = int(labels.max()) + 1
    onehot = np.eye(k)[labels]
    sums = onehot.T @ cka @ onehot
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    return sums / np.outer(counts, counts)


def _condensed_distances(cka: np.ndarray, distance: Distance) -> np.ndarray:
    """Upper-triangle pairwise distances, with the profile distances as one float64 GEMM."""
    d = cka.shape[0]
    if distance == "profile":
        rows = torch.from_numpy(cka)
        sq = (rows * rows).sum(dim=1)
        full = (sq[:, None] + sq[None, :] - 2.0 * rows @ rows.T).clamp_min_(0.0).sqrt_().numpy()
    else:
        sym = 0.5 * (cka + cka.T)
        full = np.clip(1.0 - sym, 0.0, None)
    iu = np.triu_indices(d, k=1)
    return full[iu]


def _relabel_by_first_appearance(labels: np.ndarray) -> np.ndarray:
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty(order.size, dtype=np.int64)
    remap[order] = np.arange(order.size)
    return remap[np.unique(labels, return_inverse=True)[1]].astype(np.int64)


def _check_labels(labels: np.ndarray, source: Any) -> None:
    if labels.ndim != 2 or labels.size == 0:
        raise InputError(f"partition labels from {source} must be a non-empty H x W grid")
    k = int(labels.max()) + 1
    if labels.min() < 0 or np.bincount(labels.ravel(), minlength=k).min() == 0:
        raise InputError(f"partition labels from {source} must be ids 0..k-1 with every id used")
