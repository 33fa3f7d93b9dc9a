"""One forward pass of a network over a set's images, shared by every view that reads that network.

In a report on plain folders the regions view reads relu2_2 of a seeded random VGG-16 at the images'
own size, and the atlas reads relu3_3 to relu5_3 of the same network on the same images: two passes
where one suffices (the atlas's pass goes through relu2_2 on its way). So a report *plans* its passes
before any view runs: each view says which layers of which :class:`Network` it will read on the first
``n`` images of which set, and how it reduces a batch of those layers to what it keeps (the regions
view keeps whole maps, the atlas a few sampled positions). The first view to :meth:`SharedPasses.take`
its share runs the network once with every planned layer hooked and hands every consumer its reduced
batches; nothing is held beyond what each view would hold anyway.

A share is handed out only when two or more consumers planned the same pass: a view alone runs its
own path (the feature cache, sharding under ``torchrun``), so planning never changes a lone view.
Under ``torchrun`` nothing is shared for the same reason: each view's own path splits the images
across the processes. Tracking plans the same way for each step's images, a uint8 tensor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from genlens._device import conv_layout, resolve_device
from genlens._progress import track
from genlens.io.base import ImageSource

#: What a pass reads: an image source, or a uint8 ``(n, 3, H, W)`` tensor (a tracking step's samples).
Images = ImageSource | torch.Tensor
#: ``reduce(outputs, logits, lo, hi)``: what a consumer keeps of images ``lo:hi`` given each planned
#: layer's output (``(B, ...)``, cloned) and the network's logits (``None`` unless planned).
Reducer = Callable[[dict[str, torch.Tensor], "torch.Tensor | None", int, int], Any]


@dataclass(frozen=True)
class Network:
    """A torchvision network and the input it reads: two views read the same activations exactly when
    their networks are equal (same architecture, weights, seed of random weights, input size)."""

    arch: str
    weights: str
    seed: int
    input_size: tuple[int, int]

    @classmethod
    def of(cls, arch: str, weights: str, seed: int, input_size: Sequence[int]) -> Network:
        """The seed only matters to random weights; pretrained ones ignore it."""
        return cls(arch, str(weights), int(seed) if str(weights) == "random" else 0,
                   (int(input_size[0]), int(input_size[1])))

    def describe(self) -> str:
        return f"{self.arch} ({self.weights} weights) at {self.input_size[0]}x{self.input_size[1]}"


@dataclass
class _Group:
    """Every plan for one network on the first ``n`` images of one source."""

    network: Network
    source: Images
    n: int
    plans: dict[str, tuple[tuple[str, ...], Reducer, bool]] = field(default_factory=dict)
    results: dict[str, list[Any]] | None = None


class SharedPasses:
    """The passes planned for one report (or one tracking step); see the module docstring."""

    def __init__(self, device: str | torch.device | None = None, batch_size: int = 64) -> None:
        self.device = device
        self.batch_size = batch_size
        self._groups: dict[tuple[Network, int, int], _Group] = {}

    def plan(self, consumer: str, network: Network, source: Images, n: int, layers: Sequence[str],
             reduce: Reducer, logits: bool = False) -> None:
        """``consumer`` will read ``layers`` of ``network`` on images ``0:n`` of ``source``, reduced by ``reduce``."""
        key = (network, id(source), int(n))
        group = self._groups.setdefault(key, _Group(network, source, int(n)))
        group.plans[consumer] = (tuple(layers), reduce, logits)

    def take(self, consumer: str, network: Network, source: Images, n: int,
             module: torch.nn.Module | None = None) -> list[Any] | None:
        """``consumer``'s reduced batches, in image order, from the one shared pass (run on first use);
        ``None`` when the pass is not shared (not planned, planned by this consumer alone, or under
        ``torchrun``): then the consumer runs its own path. ``module``: the consumer's own build of
        ``network`` in float32, used for the pass instead of building it again (seconds for a VGG-16)."""
        from genlens.distributed import rank_and_world

        group = self._groups.get((network, id(source), int(n)))
        if group is None or consumer not in group.plans or len(group.plans) < 2 or rank_and_world()[1] > 1:
            return None
        if group.results is None:
            group.results = self._run(group, module)
        return group.results.pop(consumer, None)  # None for a consumer left out of the pass: its own path

    def withdraw(self, consumer: str) -> None:
        """``consumer`` reads none of its planned passes after all (e.g. it reads fewer images to fit in
        memory): the passes not yet run must not run its reduction, nor keep what it would have kept."""
        for group in self._groups.values():
            if group.results is None:
                group.plans.pop(consumer, None)

    def consumers(self, network: Network, source: Images, n: int) -> tuple[str, ...]:
        """Who planned this pass (for tests and progress lines)."""
        group = self._groups.get((network, id(source), int(n)))
        return tuple(group.plans) if group is not None else ()

    def _run(self, group: _Group, module: torch.nn.Module | None) -> dict[str, list[Any]]:
        from genlens.features.torchvision_models import IMAGENET_MEAN, IMAGENET_STD, build_torchvision_model
        from genlens.io.preprocess import resize_uint8

        net = group.network
        dev = resolve_device(self.device)
        if module is None or next(module.parameters()).dtype != torch.float32:
            module, _ = build_torchvision_model(net.arch, net.weights, net.seed)
        module = module.to(dev).eval()
        named = dict(module.named_modules())
        # A consumer asking for a layer the network lacks is left to its own path, which says so in its
        # own section; it must not fail the other views' pass.
        plans = {consumer: plan for consumer, plan in group.plans.items() if all(name in named for name in plan[0])}
        if not plans:
            return {}
        layers = tuple(dict.fromkeys(layer for names, _, _ in plans.values() for layer in names))
        need_logits = any(logits for _, _, logits in plans.values())
        mean = torch.tensor(IMAGENET_MEAN, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=dev).view(1, -1, 1, 1)
        results: dict[str, list[Any]] = {consumer: [] for consumer in plans}
        batches = range(0, group.n, self.batch_size)
        label = f"{' + '.join(plans)}: one pass of {net.describe()} over {group.n} images"
        for lo in track(batches, label, total=math.ceil(group.n / self.batch_size)):
            hi = min(lo + self.batch_size, group.n)
            source = group.source
            images = source[lo:hi] if isinstance(source, torch.Tensor) else source.read(lo, hi)
            images = resize_uint8(images, net.input_size)
            x = conv_layout((images.to(device=dev, dtype=torch.float32) / 255.0 - mean) / std)
            outputs, logits = hooked_forward(module, {name: named[name] for name in layers}, x, need_logits)
            for consumer, (names, reduce, wants_logits) in plans.items():
                results[consumer].append(reduce({name: outputs[name] for name in names},
                                                logits if wants_logits else None, lo, hi))
        return results


class _Done(Exception):
    """Raised once every hooked layer has fired and no logits are wanted."""


@torch.no_grad()
def hooked_forward(module: torch.nn.Module, targets: dict[str, torch.nn.Module], x: torch.Tensor,
                   need_logits: bool) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """``module(x)`` once, returning each target's output (first element of a tuple; cloned) and the
    ``(B, K)`` logits; without ``need_logits`` the pass stops at the last target."""
    captured: dict[str, torch.Tensor] = {}

    def hook(name: str) -> Callable[..., None]:
        def capture(_m: torch.nn.Module, _i: object, out: object) -> None:
            value = out[0] if isinstance(out, (tuple, list)) else out
            captured[name] = value.detach().clone() if isinstance(value, torch.Tensor) else value
            if not need_logits and len(captured) == len(targets):
                raise _Done
        return capture

    handles = [target.register_forward_hook(hook(name)) for name, target in targets.items()]
    logits = None
    try:
        out = module(x)
        if isinstance(out, torch.Tensor) and out.ndim == 2:
            logits = out.detach()
    except _Done:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return captured, logits
