"""The FID Inception-v3: the network pytorch-fid ported from TensorFlow's 2015-12-05 Inception graph.

It is torchvision's Inception-v3 layout (same module names, so pytorch-fid's weights file loads as is)
with the three differences of the TF graph: 1008 classes, no auxiliary head, average pooling inside the
A/C/E blocks that ignores padded zeros (``count_include_pad=False``), and *max* pooling in the last
E block. Input: pytorch-fid's normalisation ``2 * x - 1`` of images in [0, 1], at 299x299 -- here
reached by the project resize policy (PIL bicubic) rather than pytorch-fid's torch bilinear.

Outputs: ``pool`` (2048-d, after global average pooling: the FID/KID features), ``logits`` (1008-d,
``fc(pool)``) and ``logits_unbiased`` (``pool @ fc.weight.T`` without the bias, which torch-fidelity
uses for the Inception Score).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.inception import BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE

from genlens._hashing import sha256_file
from genlens.features.base import FeatureExtractor
from genlens.features.weights import KNOWN_WEIGHTS, fetch, load_into, load_state_dict
from genlens.io.preprocess import Preprocess

INPUT_SIZE = (299, 299)


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 average pooling that, like TensorFlow's, averages only over real (unpadded) pixels."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _FIDInceptionA(InceptionA):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(_tf_avg_pool(x))]


class _FIDInceptionC(InceptionC):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        dbl = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                     self.branch7x7dbl_5):
            dbl = conv(dbl)
        return [self.branch1x1(x), branch7x7, dbl, self.branch_pool(_tf_avg_pool(x))]


class _FIDInceptionE(InceptionE):
    """E block; ``max_pool=True`` for the last block, where the TF graph max-pools (pytorch-fid notes it)."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _tf_avg_pool(x)
        return [self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(pooled)]


class FIDInceptionV3(nn.Module):
    """The FID Inception network; ``forward`` takes float images in [0, 1] at 299x299."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = _FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = _FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = _FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = _FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = _FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = _FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = _FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = _FIDInceptionE(1280, max_pool=False)
        self.Mixed_7c = _FIDInceptionE(2048, max_pool=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x01: torch.Tensor) -> dict[str, torch.Tensor]:
        x = 2 * x01 - 1
        for layer in (
            self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.maxpool1,
            self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, self.maxpool2,
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d,
            self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e,
            self.Mixed_7a, self.Mixed_7b, self.Mixed_7c,
        ):  # fmt: skip
            x = layer(x)
        pool = torch.flatten(self.avgpool(x), 1)
        unbiased = pool @ self.fc.weight.T
        return {"pool": pool, "logits": unbiased + self.fc.bias, "logits_unbiased": unbiased}


class InceptionFID(FeatureExtractor):
    """``inception-v3-fid``: pool features and logits of :class:`FIDInceptionV3`.

    ``weights=None`` fetches pytorch-fid's file (checked, cached); ``weights=PATH`` loads that file.
    """

    name = "inception-v3-fid"
    outputs = ("pool", "logits", "logits_unbiased")

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float32",
    ) -> None:
        super().__init__(Preprocess(size=INPUT_SIZE), device=device, dtype=dtype)
        spec = KNOWN_WEIGHTS["fid-inception-v3"]
        path = Path(weights).expanduser() if weights not in (None, "default") else fetch(spec)
        self.weights_path = path
        self._weights_sha = sha256_file(path)
        self.network = FIDInceptionV3()
        load_into(self.network, load_state_dict(path), str(path))
        self.network.eval().to(device=self.device, dtype=self.dtype)
        self._shapes = {"pool": (2048,), "logits": (1008,), "logits_unbiased": (1008,)}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.network(images.to(self.dtype) / 255.0)

    def weights_id(self) -> dict[str, Any]:
        prefix = KNOWN_WEIGHTS["fid-inception-v3"].sha256_prefix or ""
        return {"weights_sha256": self._weights_sha, "is_pytorch_fid_file": self._weights_sha.startswith(prefix)}
