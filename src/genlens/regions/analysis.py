"""The regions view end to end: bandwidth, pixel-wise CKA, partition, cluster-wise CMS.

Inputs may be image sources (``genlens.io``), uint8 ``(n, 3, H, W)`` image arrays/tensors, or float
``(n, H, W, C)`` spatial representations (e.g. a feature map), so the same code serves pixels and
features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlens._memory import require
from genlens.errors import InputError
from genlens.io.base import ImageSource
from genlens.regions.bandwidth import gamma_from_median, median_sq_distance
from genlens.regions.cka import Estimator, Kernel, pixel_cka
from genlens.regions.cms import CmsPlan, cluster_cms
from genlens.regions.partition import (
    DEFAULT_K_MAX,
    Distance,
    PixelPartition,
    partition_pixels,
)
from genlens.regions.representation import BYTES_PER_VALUE
from genlens.regions.result import RegionsResult
from genlens.regions.spatial import as_spatial, constant_sites, images_to_spatial
from genlens.views.base import size_mismatch

SpatialInput = ImageSource | torch.Tensor | np.ndarray


def load_spatial(data: SpatialInput, name: str, max_images: int | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """Any accepted input -> float64 ``(n, H, W, C)`` and a JSON-safe provenance record."""
    if isinstance(data, ImageSource):
        n = len(data) if max_images is None else min(len(data), max_images)
        if n == 0:
            raise InputError(f"{name} source is empty")
        info = {**data.describe(), "n_used": n}
        h, w = data.image_size
        require(n * h * w * 3 * BYTES_PER_VALUE, f"regions on the pixels of {n} {h}x{w} images",
                "use fewer images (--n) or a representation with fewer sites (--representation pixels:4@256x256)")
        return images_to_spatial(data.read(0, n)), info
    t = torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data)
    if max_images is not None:
        t = t[:max_images]
    if t.dtype == torch.uint8:
        spatial = images_to_spatial(t)
        kind = "uint8 images"
    else:
        spatial = as_spatial(t, name)
        kind = "spatial array"
    return spatial, {"kind": kind, "n_used": int(spatial.shape[0]), "shape": list(spatial.shape[1:])}


def build_partition(
    real: SpatialInput,
    clusters: int | None = None,
    kernel: Kernel = "rbf",
    estimator: Estimator = "biased",
    batch_size: int | None = 100,
    distance: Distance = "profile",
    k_max: int = DEFAULT_K_MAX,
    bandwidth_scale: float = 1.0,
    max_images: int | None = 1000,
    device: torch.device | str | None = None,
) -> PixelPartition:
    """Pixel partition of the real data (made once; reuse it for every checkpoint via save/load)."""
    x, info = load_spatial(real, "real", max_images)
    median = median_sq_distance(x, device=device)
    gamma = gamma_from_median(median, bandwidth_scale)
    cka = pixel_cka(x, gamma=gamma, kernel=kernel, estimator=estimator, batch_size=batch_size, device=device)
    meta = {
        "kernel": kernel,
        "estimator": estimator,
        "batch_size": batch_size,
        "n_images": int(x.shape[0]),
        "n_constant_pixels": int(constant_sites(x).sum()),
        "real": info,
    }
    return partition_pixels(
        cka, (x.shape[1], x.shape[2]), k=clusters, distance=distance, k_max=k_max,
        median_sq_dist=median, bandwidth_scale=bandwidth_scale, meta=meta,
    )


@dataclass(frozen=True, eq=False)
class RealRegions:
    """What the regions view keeps of the real set: its spatial representation, partition and bandwidth."""

    spatial: torch.Tensor  # float64 (n, H, W, C)
    info: dict[str, Any]
    partition: PixelPartition
    gamma: float
    bandwidth_scale: float
    mean_real: np.ndarray | None  # uint8 (H, W, 3) mean image, when the inputs are images
    representation: str = "pixels"  # what the clusters are made of (see genlens.regions.representation)
    site: tuple[int, int] = (1, 1)  # input pixels per site of the representation (rows, cols)


def fit_regions(
    real: SpatialInput,
    partition: PixelPartition | None = None,
    clusters: int | None = None,
    bandwidth_scale: float = 1.0,
    max_images: int | None = 2000,
    device: torch.device | str | None = None,
    **partition_options: Any,
) -> RealRegions:
    """The real side of the regions view: a partition (given, or built from ``real``) and the CMS bandwidth.

    ``partition_options`` go to :func:`build_partition`. The bandwidth is ``1 / (bandwidth_scale *
    median)`` with the partition's reference median, so results of one partition are comparable across
    checkpoints.
    """
    x, real_info = load_spatial(real, "real", max_images)
    if partition is None:
        partition = build_partition(x, clusters=clusters, bandwidth_scale=bandwidth_scale, device=device, **partition_options)
    if partition.image_size != (x.shape[1], x.shape[2]):
        raise InputError(
            f"the partition is for {partition.image_size[0]}x{partition.image_size[1]} images but the "
            f"inputs are {x.shape[1]}x{x.shape[2]}; build a new partition for this size"
        )
    median = partition.median_sq_dist if partition.median_sq_dist is not None else median_sq_distance(x, device=device)
    mean_real = None
    if x.shape[3] == 3 and (isinstance(real, ImageSource) or _is_uint8(real)):
        mean_real = ((x.mean(dim=0) + 1.0) * 127.5).clamp(0, 255).round().to(torch.uint8).numpy()
    return RealRegions(x, real_info, partition, gamma_from_median(median, bandwidth_scale), bandwidth_scale, mean_real)


def compare_regions(
    real: RealRegions,
    fake: SpatialInput,
    plan: CmsPlan | None = None,
    max_images: int | None = 2000,
    device: torch.device | str | None = None,
    fake_info: dict[str, Any] | None = None,
) -> RegionsResult:
    """Cluster-wise CMS of ``fake`` against a fitted real side (``fake_info`` overrides its provenance)."""
    plan = plan or CmsPlan()
    x = real.spatial
    y, info = load_spatial(fake, "fake", max_images)
    fake_info = fake_info or info
    if x.shape[1:3] != y.shape[1:3]:
        _refuse_sizes(tuple(x.shape[1:3]), tuple(y.shape[1:3]))
    est = cluster_cms(x, y, real.partition.labels, real.gamma, plan, device=device)
    return RegionsResult.from_estimates(
        est, real.partition, real.gamma, real.bandwidth_scale, plan, int(x.shape[0]), int(y.shape[0]),
        mean_real=real.mean_real, inputs={"real": real.info, "fake": fake_info},
        representation=real.representation, site=real.site,
    )


def analyze_regions(
    real: SpatialInput,
    fake: SpatialInput,
    partition: PixelPartition | None = None,
    clusters: int | None = None,
    plan: CmsPlan | None = None,
    bandwidth_scale: float = 1.0,
    max_images: int | None = 2000,
    device: torch.device | str | None = None,
    **partition_options: Any,
) -> RegionsResult:
    """Cluster-wise CMS of ``fake`` against ``real``: :func:`fit_regions` then :func:`compare_regions`.

    Without ``partition`` one is built from ``real`` (``clusters`` = k or ``None`` for the
    largest-gap rule; ``partition_options`` go to :func:`build_partition`).
    """
    real_size, fake_size = _spatial_size(real), _spatial_size(fake)
    if None not in (real_size, fake_size) and real_size != fake_size:  # refuse before clustering the real set
        _refuse_sizes(real_size, fake_size)
    fitted = fit_regions(real, partition, clusters, bandwidth_scale, max_images, device, **partition_options)
    return compare_regions(fitted, fake, plan, max_images, device)


def _spatial_size(data: SpatialInput) -> tuple[int, int] | None:
    """``(H, W)`` of an input without reading it (``None`` when its layout is not known yet)."""
    if isinstance(data, ImageSource):
        return tuple(data.image_size)
    shape = tuple(getattr(data, "shape", ()))
    if len(shape) != 4:
        return None
    return shape[2:4] if _is_uint8(data) else shape[1:3]


def _refuse_sizes(real: tuple[int, ...], fake: tuple[int, ...]) -> None:
    raise InputError(size_mismatch(real, fake, "regions"))


def _is_uint8(data: Any) -> bool:
    return getattr(data, "dtype", None) in (np.uint8, torch.uint8)
