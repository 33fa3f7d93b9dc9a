"""The zoo's registrations: its sources, networks and generators, added to the ordinary registries.

Imported by :func:`genlens.plugins.load_plugins` (it is listed in :data:`genlens.plugins.BUILTIN`);
nothing else in genlens imports the zoo to use it. A third-party plugin looks the same.
"""

from __future__ import annotations

from functools import partial

from genlens.atlas.model import register_atlas_model
from genlens.features.registry import register_extractor
from genlens.io.base import ImageSource
from genlens.io.sources import register_source_scheme
from genlens.manifold.decoders import register_decoder
from genlens.semantics.generators import register_generator
from genlens.semantics.registry import register_segmenter
from genlens.zoo import adapters


def _open_zoo(spec: str) -> ImageSource:
    """``zoo:<name>?..`` -> :func:`genlens.zoo.sources.open_zoo_spec` (imported on use)."""
    from genlens.zoo.sources import open_zoo_spec

    return open_zoo_spec(spec)


register_source_scheme("zoo:", _open_zoo)
register_extractor("zoo-classifier", adapters.classifier_extractor)
register_atlas_model("zoo-classifier", adapters.classifier_atlas_model)
register_segmenter("zoo", adapters.segmenter)
register_segmenter("zoo-quick", partial(adapters.segmenter, quick=True))
register_decoder("zoo-vae", adapters.vae_decoder)
register_generator("zoo-dcgan", adapters.dcgan_generator)
