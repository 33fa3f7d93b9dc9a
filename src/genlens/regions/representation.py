"""What the regions view clusters and compares: the pixels, or a feature map of any network layer.

Raw pixels under an RBF kernel barely notice a blurred or JPEG-damaged region of a natural photo:
the pixel values hardly move. An early layer of even a random-weight CNN responds to edges and
texture, so the same pairwise-CKA clustering and cluster-wise CMS run on its feature map see those
defects. A representation is named like a feature space with a layer:

* ``pixels`` -- the images themselves, ``(n, H, W, 3)`` in ``[-1, 1]``;
* ``random-vgg16:<layer>`` -- a seeded random VGG-16, e.g. ``random-vgg16:features.8`` (relu2_2);
* ``torchvision:<arch>:<layer>`` -- any torchvision model's named module (its weights as for the
  feature spaces: present locally or downloadable);
* ``pixels:<s>`` -- the pixels in ``s x s`` blocks, each block one site of ``3 s²`` values (no network,
  nothing averaged away: see :class:`~genlens.features.simple.PixelBlocks`); ``pixels:<s>@<H>x<W>``
  resizes the images to ``H x W`` first;
* any other registered extractor, ``<name>:<layer>``.

**Bounded at any size.** Pairwise CKA costs memory in the square of the number of sites, so a
representation is kept to at most :data:`MAX_SITES` sites (64 x 64). Without a representation named,
images get :func:`default_for` their size: relu2_2 of a random VGG-16 up to 128 px, relu3_3 (a quarter
of the side) up to 256 px, and beyond that 4 x 4 pixel blocks of the image resized to at most 256 px
(a VGG-16 pass on 512- to 1024-px images costs minutes per hundred images on a CPU, and the values of
every pixel of 200 1024-px images are 5 GB in float64 per set).

Networks run at the images' own resolution (no resize to 224): a 32-px image gives a 16x16 map at
relu2_2. Each site of the map covers ``H / h`` input pixels, which is how clusters on the map are
drawn back on the image and how a cluster's box is given in input pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlens._memory import affordable, require
from genlens.errors import ConfigError
from genlens.features.shared_pass import Network, SharedPasses
from genlens.io.base import ImageSource

PIXELS = "pixels"
#: This view's name in a report's shared network passes.
CONSUMER = "regions"
#: The feature map regions uses for images that name none of their own: relu2_2 of a random VGG-16,
#: which sees blur and texture that pixels do not (measured on photo crops; see docs/regions.md).
GENERIC = "random-vgg16:features.8"
#: The most sites (map positions) a default representation has: pairwise CKA holds sites² numbers.
MAX_SITES = 64 * 64
#: Images larger than the VGG layers allow are resized to this longest side and cut in BLOCK-px blocks.
RESIZE_TO, BLOCK = 256, 4
#: Bytes the regions view holds per value of one set's representation at its peak (the real side in
#: float64, its site-major copy for CKA, the generated side and its float32 extraction; measured: 200
#: 1024-px images in 16-px blocks, 0.63G values per set, passed 24 GB before the OS killed it).
BYTES_PER_VALUE = 48
#: The fewest images the view shrinks a default run to when memory holds no more (see images_that_fit).
MIN_FIT = 100
#: Random VGG-16 layers by how much they shrink the side, for images too large for relu2_2.
_VGG_BY_STRIDE = {2: "random-vgg16:features.8", 4: "random-vgg16:features.15"}


@dataclass(frozen=True)
class Representation:
    """A parsed representation: the extractor's name and the layer read from it (``None``: pixels)."""

    name: str
    extractor: str | None
    layer: str | None

    @classmethod
    def parse(cls, spec: str) -> Representation:
        if spec == PIXELS:
            return cls(spec, None, None)
        extractor, sep, layer = spec.rpartition(":")
        if not sep or not extractor or not layer:
            raise ConfigError(f"regions representation {spec!r} is neither 'pixels' nor '<feature space>:<layer>', "
                              f"e.g. {GENERIC} or torchvision:resnet18:layer1")
        return cls(spec, extractor, layer)

    @property
    def is_pixels(self) -> bool:
        return self.extractor is None


def representation_for(source: ImageSource, given: str | None) -> Representation:
    """The representation named in the options, else the images' own (world scenes: pixels), else
    :func:`default_for` their size."""
    return Representation.parse(given or source.defaults().get("regions_representation")
                                or default_for(source.image_size))


def default_for(image_size: tuple[int, int]) -> str:
    """:data:`GENERIC` when its map has at most :data:`MAX_SITES` sites, else a deeper VGG-16 layer that
    does, else pixel blocks of the smallest side (dividing the image) that does."""
    h, w = image_size
    for stride, rep in _VGG_BY_STRIDE.items():
        if (h // stride) * (w // stride) <= MAX_SITES:
            return rep
    scale = RESIZE_TO / max(h, w)
    rows, cols = (max(BLOCK, BLOCK * round(side * scale / BLOCK)) for side in (h, w))
    return f"{PIXELS}:{BLOCK}@{rows}x{cols}"


def extractor_of(rep: Representation, device: str | None = None, seed: int = 0, train_on: ImageSource | None = None,
                 cache_dir: Any = None) -> Any:
    """A spatial feature extractor (``(B, C, h, w)`` per image, at the images' own size) for ``rep``.

    ``train_on``: the real set a space trained on real images (``learned:block2``) trains on, or loads
    from the cache by that set's fingerprint; generated images never train it."""
    from genlens.features import get_extractor
    from genlens.features.space import TRAINED_ON_REAL, feature_extractor
    from genlens.features.torchvision_models import (
        ModuleExtractor,
        build_torchvision_model,
    )

    assert rep.extractor is not None and rep.layer is not None
    if rep.extractor == PIXELS:
        from genlens.features.simple import PixelBlocks

        block, _, size = rep.layer.partition("@")
        rows, _, cols = size.partition("x")
        if not block.isdigit() or int(block) < 1 or (size and not (rows.isdigit() and cols.isdigit())):
            raise ConfigError(f"regions representation {rep.name!r}: pixel blocks are named pixels:<side> or "
                              "pixels:<side>@<H>x<W>, e.g. pixels:8 or pixels:4@256x256")
        return PixelBlocks(int(block), (int(rows), int(cols)) if size else None, device=device)
    if rep.extractor in TRAINED_ON_REAL:
        if train_on is None:
            raise ConfigError(f"regions representation {rep.name!r} is trained on the real images; fit the "
                              "regions view on them first (a saved tracking reference cannot rebuild it)")
        return feature_extractor(rep.extractor, train_on.image_size, device, cache_dir,
                                 {"layers": rep.layer, "spatial": True}, train_on=train_on)
    if rep.extractor == "random-vgg16":
        model, record = build_torchvision_model("vgg16", "random", seed)
        return ModuleExtractor(model, [rep.layer], name=rep.name, weights=record, input_size=None, spatial=True,
                               device=device)
    if rep.extractor.startswith("torchvision:"):
        return get_extractor(f"{rep.extractor}:{rep.layer}", device=device, spatial=True, input_size=None)
    return get_extractor(rep.extractor, device=device, layers=rep.layer, spatial=True, input_size=None)


def network_of(rep: Representation, image_size: tuple[int, int], seed: int = 0) -> Network | None:
    """The torchvision network (read at the images' own size) behind ``rep``, so a report can share its
    pass with another view reading the same network; ``None`` for pixels and other extractors."""
    if rep.extractor == "random-vgg16":
        return Network.of("vgg16", "random", seed, image_size)
    if rep.extractor is not None and rep.extractor.startswith("torchvision:"):
        return Network.of(rep.extractor.split(":", 1)[1], "default", seed, image_size)
    return None


def image_count(source: ImageSource | torch.Tensor, max_images: int | None) -> int:
    """How many images the view reads of ``source`` (a set, or a tensor of images): its first
    ``max_images`` (all when ``None``)."""
    return len(source) if max_images is None else min(len(source), max_images)


def plan_maps(passes: SharedPasses, source: ImageSource | torch.Tensor, rep: Representation,
              max_images: int | None, seed: int = 0) -> None:
    """Plan the feature maps of ``source`` (a tracking step's tensor of images, or a set) in shared passes
    (:func:`feature_maps` takes them)."""
    size = tuple(source.shape[-2:]) if isinstance(source, torch.Tensor) else source.image_size
    network = network_of(rep, size, seed)
    if network is not None and rep.layer is not None:
        passes.plan(CONSUMER, network, source, image_count(source, max_images), [rep.layer], _whole_map)


def _whole_map(outputs: dict[str, torch.Tensor], _logits: Any, _lo: int, _hi: int) -> np.ndarray:
    """What regions keeps of a shared batch: the whole map, float32 on the CPU (as an extraction gives it)."""
    (value,) = outputs.values()
    return value.to(torch.float32).cpu().numpy()


def images_that_fit(n: int, per_image: int) -> int:
    """``n``, or fewer when the free memory holds maps of fewer images (but never fewer than
    :data:`MIN_FIT`: below that the view says it does not fit instead of comparing too few)."""
    fit = affordable(per_image * BYTES_PER_VALUE)
    return n if fit is None or fit >= n or fit < MIN_FIT else fit


def feature_maps(source: ImageSource, rep: Representation, max_images: int | None, device: str | None = None,
                 seed: int = 0, extractor: Any = None, cache_dir: Any = None,
                 passes: SharedPasses | None = None, planned_on: Any = None,
                 fit_memory: bool = False) -> tuple[torch.Tensor, dict[str, Any], Any]:
    """``(n, h, w, C)`` float64 feature maps of the first ``max_images`` images, their provenance, and the
    extractor (reuse it for the generated set). Without ``extractor``, ``source`` is the real set: a
    representation trained on real images trains on it. ``passes``: shared passes, which give the maps
    when another view planned the same network on these images (``planned_on``: what they were planned
    on, when not ``source`` itself: a tracking step's tensor). ``fit_memory``: read fewer images when
    the free memory holds fewer (:func:`images_that_fit`); ``info["n_used"]`` says how many."""
    from genlens.features import extract_features
    from genlens.io.subset import PrefixSource

    extractor = extractor if extractor is not None else extractor_of(rep, device, seed, source, cache_dir)
    n = image_count(source, max_images)
    per_image = int(extractor(source.read(0, 1))[extractor.outputs[0]].numel())  # one probe image
    network = network_of(rep, source.image_size, seed)
    if fit_memory and (fit := images_that_fit(n, per_image)) < n:
        if passes is not None:  # its passes were planned for n images of each set
            passes.withdraw(CONSUMER)
        n = fit
    require(n * per_image * BYTES_PER_VALUE, f"regions on {rep.name} maps of {n} images ({per_image} values each)",
            "use fewer images (--n) or a representation with fewer sites or channels, e.g. pixels:4@256x256")
    shared = None
    if passes is not None and network is not None:
        shared = passes.take(CONSUMER, network, source if planned_on is None else planned_on, n,
                             getattr(extractor, "model", None))
    if shared is not None:
        maps = np.concatenate(shared)
    else:
        head = source if n >= len(source) else PrefixSource(source, n)
        maps = np.asarray(extract_features(head, extractor, cache_dir=False, outputs=extractor.outputs[0]))
    if maps.ndim != 4:
        raise ConfigError(f"layer {rep.layer!r} of {rep.extractor} gives {maps.ndim - 1}-d outputs per image, not a "
                          "(C, h, w) feature map; choose a convolutional layer")
    info = {**source.describe(), "n_used": n, "representation": rep.name, "map": list(maps.shape[1:])}
    b, c, h, w = maps.shape
    spatial = torch.empty((b, h, w, c), dtype=torch.float64)  # one float64 copy, channels last
    spatial.copy_(torch.from_numpy(maps).permute(0, 2, 3, 1))
    return spatial, info, extractor


def mean_image(source: ImageSource, max_images: int | None) -> np.ndarray:
    """The mean of the first ``max_images`` images as uint8 ``(H, W, 3)``: what cluster maps are drawn over."""
    n = len(source) if max_images is None else min(len(source), max_images)
    total = torch.zeros(3, *source.image_size, dtype=torch.float64)
    done = 0
    for batch in source.batches(256):
        batch = batch[: n - done]
        total += batch.to(torch.float64).sum(0)
        done += len(batch)
        if done >= n:
            break
    return (total / max(n, 1)).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
