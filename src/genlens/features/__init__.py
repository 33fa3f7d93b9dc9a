"""Feature extractors (a registry of names), their weights, and the resumable on-disk feature cache."""

from __future__ import annotations

from genlens.features.base import FeatureExtractor
from genlens.features.cache import extract_features
from genlens.features.registry import EXTRACTOR_NAMES, get_extractor, register_extractor
from genlens.features.simple import load_precomputed

__all__ = ["EXTRACTOR_NAMES", "FeatureExtractor", "extract_features", "get_extractor", "load_precomputed",
           "register_extractor"]
