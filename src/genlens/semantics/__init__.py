"""The semantics view: which object classes a generator omits or over-produces, and where.

Distribution level (Bau et al., "Seeing what a GAN cannot generate", 2019): segment real and generated
images, compare per-class area and presence with bootstrap CIs, rank classes by a noise-aware z-score,
and summarise with the Fréchet Segmentation Distance. Instance level: invert the generator's later
layers on a real image and list the classes its reconstruction loses.
"""

from __future__ import annotations

from genlens.semantics.analysis import (
    InversionResult,
    SemanticsResult,
    compare_sources,
    invert_and_inspect,
)
from genlens.semantics.encoder import LayerEncoder, train_encoder
from genlens.semantics.instance import InstanceView, instance_view
from genlens.semantics.inversion import Inversion, invert_images
from genlens.semantics.registry import get_segmenter
from genlens.semantics.segmenter import CallableSegmenter, Segmenter, class_areas, segment_source
from genlens.semantics.split import GeneratorSplit
from genlens.semantics.statistics import ClassStat, SemanticComparison, compare_areas, fsd, split_half_fsd

__all__ = [
    "CallableSegmenter",
    "ClassStat",
    "GeneratorSplit",
    "InstanceView",
    "Inversion",
    "InversionResult",
    "LayerEncoder",
    "Segmenter",
    "SemanticComparison",
    "SemanticsResult",
    "class_areas",
    "compare_areas",
    "compare_sources",
    "fsd",
    "get_segmenter",
    "instance_view",
    "invert_and_inspect",
    "invert_images",
    "segment_source",
    "split_half_fsd",
    "train_encoder",
]
