"""Any torchvision classifier as a feature extractor, reading any named modules through forward hooks.

``torchvision:<arch>[:<layer>[,<layer>...]]`` -- e.g. ``torchvision:resnet50``, ``torchvision:vgg16:features.29``.
Without a layer the output is the input of the last ``nn.Linear`` (the penultimate, "pre-logits"
features). 4-d maps are global-average-pooled to ``(B, C)`` unless ``spatial=True``; 3-d token outputs
``(B, N, C)`` of vision transformers are averaged over tokens. The forward pass stops as soon as every
requested layer has fired, so early layers cost only the early part of the network.

Weights: ``"default"`` (torchvision's ImageNet weights, fetched and checked by
:mod:`genlens.features.weights`), ``"random"`` (seeded initialisation; ``seed=``) or a path to a state dict.
Input: the project resize to ``input_size`` (default 224x224; no centre crop), then ImageNet mean/std.
``random-vgg16`` is VGG-16 with seeded random weights read at ``fc2`` after its ReLU (``classifier.4``,
4096-d) -- the "random embedding" the precision/recall/density/coverage paper recommends for domains
far from ImageNet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from genlens._hashing import sha256_file
from genlens.errors import ConfigError
from genlens.features.base import FeatureExtractor
from genlens.features.weights import fetch, load_into, load_state_dict, torchvision_weights_spec
from genlens.io.preprocess import Preprocess

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Architectures whose torchvision builder sets extra constructor arguments for its pretrained weights.
_PRETRAINED_KWARGS: dict[str, dict[str, Any]] = {
    "inception_v3": {"aux_logits": True, "transform_input": True, "init_weights": False},
    "googlenet": {"aux_logits": False, "transform_input": True, "init_weights": False},
}


class _StopForward(Exception):
    """Raised by the last hook so the rest of the network is not run."""


def build_torchvision_model(arch: str, weights: str | Path = "default", seed: int = 0) -> tuple[nn.Module, dict]:
    """A torchvision model in eval mode with the requested weights, and the record identifying them."""
    import torchvision

    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise ConfigError(
            f"unknown torchvision architecture {arch!r}; see torchvision.models.list_models() for names"
        )
    if weights == "random":
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            model = torchvision.models.get_model(arch, weights=None)
        finally:
            torch.random.set_rng_state(state)
        # The init code may change between torch versions, so the record names both seed and version.
        return model.eval(), {"weights": "random", "seed": seed, "torch": torch.__version__.split("+")[0]}
    if weights == "default":
        spec = torchvision_weights_spec(arch)
        path = fetch(spec)
        enum = torchvision.models.get_model_weights(arch).DEFAULT
        kwargs = {"num_classes": len(enum.meta["categories"]), **_PRETRAINED_KWARGS.get(arch, {})}
    else:
        path, kwargs = Path(weights).expanduser(), {}
    state_dict = load_state_dict(path)
    if "num_classes" not in kwargs:
        linears = [k for k in state_dict if k.endswith(".weight") and state_dict[k].ndim == 2]
        if linears:
            kwargs["num_classes"] = int(state_dict[linears[-1]].shape[0])
    model = torchvision.models.get_model(arch, weights=None, **kwargs)
    load_into(model, state_dict, str(path))
    record = {"weights": "default" if weights == "default" else "file", "weights_sha256": sha256_file(path)}
    return model.eval(), record


def _last_linear(model: nn.Module) -> str:
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise ConfigError(f"{type(model).__name__} has no Linear layer; name the layer to read")
    return names[-1]


class ModuleExtractor(FeatureExtractor):
    """Named modules of any ``nn.Module``, read through forward hooks; outputs are keyed by module name.

    Images are scaled to [0, 1], then normalised by ``(x - mean) / std`` per channel. With no ``layers``
    the output ``pre_logits`` is the input of the module's last ``nn.Linear``. ``aliases`` renames
    outputs (module name -> output name), e.g. ``{"fc": "logits"}``.
    """

    def __init__(
        self,
        module: nn.Module,
        layers: str | list[str] | tuple[str, ...] | None = None,
        *,
        name: str,
        weights: dict[str, Any],
        input_size: int | tuple[int, int] | None = 224,
        mean_std: tuple[tuple[float, ...], tuple[float, ...]] = (IMAGENET_MEAN, IMAGENET_STD),
        spatial: bool = False,
        aliases: dict[str, str] | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float32",
    ) -> None:
        size = (input_size, input_size) if isinstance(input_size, int) else input_size
        super().__init__(Preprocess(size=tuple(size) if size else None), device=device, dtype=dtype)
        self.model = module.eval()
        if isinstance(layers, str):
            layers = [part for part in layers.split(",") if part]
        self._pre_logits = not layers
        self.layers = tuple(layers) if layers else (_last_linear(self.model),)
        modules = dict(self.model.named_modules())
        missing = [layer for layer in self.layers if layer not in modules]
        if missing:
            some = ", ".join(n for n in list(modules)[1:40] if n)
            raise ConfigError(f"{name} has no module(s) {missing}; module names include: {some} ...")
        self.spatial = spatial
        aliases = aliases or {}
        self.outputs = ("pre_logits",) if self._pre_logits else tuple(aliases.get(k, k) for k in self.layers)
        self.name = name
        self._weights = weights
        self._mean_std = (tuple(mean_std[0]), tuple(mean_std[1]))
        self.model.to(device=self.device, dtype=self.dtype)
        self._mean = torch.tensor(mean_std[0], device=self.device, dtype=self.dtype).view(1, -1, 1, 1)
        self._std = torch.tensor(mean_std[1], device=self.device, dtype=self.dtype).view(1, -1, 1, 1)
        self._captured: dict[str, torch.Tensor] = {}
        self._targets = [modules[layer] for layer in self.layers]

    def _attach_hooks(self) -> list[torch.utils.hooks.RemovableHandle]:
        """Hooks live only during our own forward pass, so the caller's module is left as it was."""
        handles = []
        for target, key in zip(self._targets, self.outputs):
            if self._pre_logits:
                handles.append(target.register_forward_pre_hook(lambda _m, args, key=key: self._capture(key, args[0])))
            else:
                handles.append(target.register_forward_hook(lambda _m, _in, out, key=key: self._capture(key, out)))
        return handles

    def _pool(self, value: torch.Tensor) -> torch.Tensor:
        if self.spatial:
            return value.clone()  # inplace activations later in the net would otherwise overwrite it
        if value.ndim == 4:
            return value.mean(dim=(2, 3))
        if value.ndim == 3:
            return value.mean(dim=1)
        return value.flatten(1).clone()

    def _capture(self, key: str, value: Any) -> None:
        if isinstance(value, (tuple, list)):
            value = value[0]
        self._captured[key] = self._pool(value)
        if len(self._captured) == len(self.outputs):
            raise _StopForward

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images.to(self.dtype) / 255.0 - self._mean) / self._std
        self._captured = {}
        handles = self._attach_hooks()
        try:
            self.model(x)
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
        captured, self._captured = self._captured, {}
        return captured

    def weights_id(self) -> dict[str, Any]:
        mean, std = self._mean_std
        normalise = {"mean": list(mean), "std": list(std)}
        return {**self._weights, "layers": list(self.layers), "spatial": self.spatial, "normalise": normalise}


def torchvision_extractor(
    arch: str,
    layers: str | list[str] | tuple[str, ...] | None = None,
    weights: str | Path = "default",
    seed: int = 0,
    name: str | None = None,
    **kwargs: Any,
) -> ModuleExtractor:
    """``torchvision:<arch>[:<layers>]`` (see the module docstring); ``kwargs`` go to :class:`ModuleExtractor`."""
    model, record = build_torchvision_model(arch, weights, seed)
    if isinstance(layers, str):
        layers = [part for part in layers.split(",") if part]
    name = name or f"torchvision:{arch}" + (":" + ",".join(layers) if layers else "")
    return ModuleExtractor(model, layers, name=name, weights=record, **kwargs)


def random_vgg16(seed: int = 0, **kwargs: Any) -> ModuleExtractor:
    """``random-vgg16``: seeded random VGG-16 at fc2 after ReLU (4096-d)."""
    return torchvision_extractor(
        "vgg16", layers="classifier.4", weights="random", seed=seed, name="random-vgg16", **kwargs
    )
