"""Hugging Face ``transformers`` semantic-segmentation models (SegFormer, UperNet, ...) as segmenters.

Only files already on disk are used (``local_files_only=True``): genlens never downloads at run time.
``transformers`` is optional (``pip install 'genlens[hf]'``) and imported only when this adapter is built.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from genlens._device import resolve_device
from genlens.errors import ConfigError, WeightsError


class HFSegmenter:
    """A ``transformers`` model + its image processor; logits are upsampled to the input size, then argmax.

    The processor does the model's own resizing and normalisation, so inputs of any size work.
    """

    def __init__(self, model: str, device: str | None = None, batch_size: int = 16, **kwargs: Any) -> None:
        try:
            from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation
        except ImportError as err:
            raise ConfigError(
                "Hugging Face segmenters need the `transformers` package: pip install 'genlens[hf]'"
            ) from err
        try:
            self.processor = AutoImageProcessor.from_pretrained(model, local_files_only=True, **kwargs)
            net = AutoModelForSemanticSegmentation.from_pretrained(model, local_files_only=True, **kwargs)
        except (OSError, ValueError) as err:
            raise WeightsError(
                f"cannot load Hugging Face model {model!r} from local files ({err}); genlens does not "
                "download at run time: place the model folder (config.json, weights, "
                "preprocessor_config.json) on disk and pass its path as hf:<folder>"
            ) from err
        self.device = resolve_device(device)
        self.model = net.to(self.device).eval()
        id2label = self.model.config.id2label
        self.classes = [str(id2label[i]) for i in range(len(id2label))]
        self.name = f"hf:{model}"
        self.ignore_index = None
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for lo in range(0, images.shape[0], self.batch_size):
            chunk = images[lo : lo + self.batch_size]
            arrays = list(chunk.permute(0, 2, 3, 1).cpu().numpy())
            inputs = self.processor(images=arrays, return_tensors="pt").to(self.device)
            logits = self.model(**inputs).logits
            logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
            out.append(logits.argmax(1).cpu())
        return torch.cat(out)
