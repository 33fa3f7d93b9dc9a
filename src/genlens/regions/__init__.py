"""Regions view: which image regions a generator gets wrong.

Pixels are grouped into nearly independent clusters by pixel-wise CKA on real images
(:func:`build_partition` -> :class:`PixelPartition`); the cosine similarity of kernel mean embeddings
(CMS) of generated vs real images then factorises into per-cluster CMS values
(:func:`analyze_regions` -> :class:`RegionsResult`), each with a bootstrap CI and a real-vs-real floor.
Works on any ``(n, H, W, C)`` spatial representation: pixels or a feature map.
"""

from __future__ import annotations

from genlens.regions.analysis import analyze_regions, build_partition, load_spatial
from genlens.regions.bandwidth import gamma_from_median, median_sq_distance
from genlens.regions.cka import pixel_cka
from genlens.regions.cms import CmsEstimates, CmsPlan, cluster_cms
from genlens.regions.partition import PixelPartition, choose_k, partition_pixels
from genlens.regions.result import ClusterScore, RegionsResult
from genlens.regions.spatial import images_to_spatial

__all__ = [
    "ClusterScore",
    "CmsEstimates",
    "CmsPlan",
    "PixelPartition",
    "RegionsResult",
    "analyze_regions",
    "build_partition",
    "choose_k",
    "cluster_cms",
    "gamma_from_median",
    "images_to_spatial",
    "load_spatial",
    "median_sq_distance",
    "partition_pixels",
    "pixel_cka",
]
