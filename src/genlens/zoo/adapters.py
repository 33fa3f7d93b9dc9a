"""The zoo's networks behind genlens's ordinary interfaces, for :mod:`genlens.zoo.plugin` to register.

The classifier as a feature extractor and an atlas model, the segmenter, the digits beta-VAE as a
decoder and the world DCGAN as a generator to invert. Each is trained on the world (or the digits),
per image size, so the factories map the images' size to the model's ``size``. Heavy imports wait
for the first call, so loading the plugin costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from genlens.plugins import as_bool, parse_spec

if TYPE_CHECKING:
    from genlens.atlas.model import AtlasModel
    from genlens.features.torchvision_models import ModuleExtractor
    from genlens.manifold.decoders import LoadedDecoder
    from genlens.semantics.segmenter import Segmenter

#: Layers an atlas reads by default: mid to late blocks of the classifier.
CLASSIFIER_LAYERS = ("block2", "block3", "block4")
#: Options of ``zoo-vae?...`` and ``zoo-dcgan?...`` specs, with their parsers.
VAE_OPTIONS: dict[str, Any] = {"beta": float, "latent_dim": int, "quick": as_bool, "seed": int}
DCGAN_OPTIONS: dict[str, Any] = {"quick": as_bool, "epochs": int, "seed": int, "size": int,
                                 "exclude_class": str, "epoch": int}


def _size(size: int | None, image_size: tuple[int, ...] | None) -> int:
    """An explicit ``size`` option, else the images' height, else the zoo's 32 px."""
    return int(size or (image_size[0] if image_size else 32))


def _classifier(size: int, quick: bool) -> tuple[nn.Module, dict[str, Any]]:
    """The world classifier for ``size`` px images and its provenance record."""
    from genlens.io.torch_sources import module_weights_hash
    from genlens.zoo.models import classifier

    module = classifier(size=size, quick=quick)
    record = {"weights": f"zoo-classifier size={size} quick={quick}", "weights_sha256": module_weights_hash(module)}
    return module, record


def classifier_extractor(
    image_size: tuple[int, int] | None = None, size: int | None = None, quick: bool = False, **kwargs: Any
) -> ModuleExtractor:
    """``zoo-classifier``: the world classifier's penultimate features (and ``fc`` logits).

    It is trained on the world itself, so for zoo images it is the natural feature space. Inputs are
    scaled to [-1, 1] as in its training; no resize beyond ``size``.
    """
    from genlens.features.torchvision_models import ModuleExtractor

    size = _size(size, image_size)
    model, record = _classifier(size, quick)
    kwargs.setdefault("aliases", {"penultimate": "features", "fc": "logits"})
    layers = kwargs.pop("layers", "penultimate,fc")
    signed = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    return ModuleExtractor(model, layers, name="zoo-classifier", weights=record, input_size=size, mean_std=signed,
                           **kwargs)


def classifier_atlas_model(
    image_size: tuple[int, int], input_size: int | None = None, quick: bool = False, **_: Any
) -> AtlasModel:
    """``zoo-classifier`` as an atlas model (``seed`` and ``weights`` do not apply: its weights are the zoo's)."""
    from genlens.atlas.model import AtlasModel

    size = _size(input_size, image_size)
    module, record = _classifier(size, quick)
    return AtlasModel(module.eval(), "zoo-classifier", (size, size), lambda x: x * 2.0 - 1.0,
                      CLASSIFIER_LAYERS, tuple(module.classes), record)


def segmenter(
    device: str | None = None, image_size: tuple[int, int] | None = None, cache_dir: Any = None,
    size: int | None = None, quick: bool = False, **options: Any,
) -> Segmenter:
    """``zoo`` / ``zoo-quick``: the world segmenter for the images' size (trained on first use, then cached)."""
    from genlens.zoo import models

    if cache_dir is not None:
        options.setdefault("cache_dir", cache_dir)
    return models.segmenter(size=_size(size, image_size), quick=bool(quick), device=device, **options)


def vae_decoder(spec: str, quick: bool = False) -> LoadedDecoder:
    """``zoo-vae?beta=4&latent_dim=10&quick=1&seed=0``: the digits beta-VAE's decoder (``quick`` the default)."""
    from genlens.manifold.decoders import LoadedDecoder
    from genlens.zoo.models.digits_vae import vae

    _, options = parse_spec(spec, VAE_OPTIONS)
    options = {"beta": 1.0, "latent_dim": 10, "quick": quick, "seed": 0, **options}
    model = vae(**options)
    return LoadedDecoder(decoder=model.decode, latent_dim=options["latent_dim"], describe={"decoder": spec, **options})


def dcgan_generator(spec: str) -> tuple[nn.Module, tuple[int, ...]]:
    """``zoo-dcgan?epoch=3&quick=1&...``: one epoch's generator of the world DCGAN (the last by default)."""
    from genlens.zoo.models import dcgan

    _, options = parse_spec(spec, DCGAN_OPTIONS)
    epoch = options.pop("epoch", None)
    run = dcgan(**options)
    return run.generator(epoch), (run.latent_dim,)
