"""Instance view: which classes of a real image the generator cannot reproduce.

Segment each real image ``x`` and its layer-inversion reconstruction ``x'`` with the same segmenter.
A class is *lost* when it covers at least ``min_area`` of ``x`` but ``x'`` keeps less than
``keep_fraction`` of that area. The lost-pixel mask marks the pixels of lost classes in ``x`` that
``x'`` labels differently: where, in this image, the generator fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from genlens.semantics.segmenter import Segmenter, class_areas, ignored_class, segment_batch


@dataclass(frozen=True)
class InstanceFinding:
    """One image: classes present in ``x``, those lost in ``x'``, and how well the two segmentations agree."""

    index: int
    present: tuple[str, ...]
    lost: tuple[str, ...]
    lost_area: tuple[float, ...]
    agreement: float
    l1: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "present": list(self.present), "lost": list(self.lost),
                "lost_area": list(self.lost_area), "pixel_agreement": self.agreement, "l1": self.l1}


@dataclass(frozen=True)
class InstanceView:
    """Images, reconstructions, both segmentations, lost-pixel masks and per-image findings."""

    classes: tuple[str, ...]
    images: np.ndarray
    reconstructions: np.ndarray
    labels: np.ndarray
    reconstruction_labels: np.ndarray
    lost_mask: np.ndarray
    findings: tuple[InstanceFinding, ...]
    min_area: float
    keep_fraction: float
    extra: dict[str, Any] = field(default_factory=dict)

    def lost_counts(self) -> dict[str, int]:
        """How many images lose each class, most often lost first."""
        counts: dict[str, int] = {}
        for f in self.findings:
            for name in f.lost:
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def loss_rate(self, name: str) -> float | None:
        """Fraction of the images containing class ``name`` that lose it (None if no image contains it)."""
        having = [f for f in self.findings if name in f.present]
        return None if not having else sum(name in f.lost for f in having) / len(having)

    def worst(self, name: str | None = None, k: int = 6) -> list[int]:
        """Indices of the ``k`` images with the largest lost area (of class ``name``, or of any class)."""
        def score(f: InstanceFinding) -> float:
            if name is None:
                return sum(f.lost_area)
            return f.lost_area[f.lost.index(name)] if name in f.lost else 0.0

        ranked = sorted(self.findings, key=score, reverse=True)
        return [f.index for f in ranked[:k] if score(f) > 0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "n": len(self.findings),
            "min_area": self.min_area,
            "keep_fraction": self.keep_fraction,
            "lost_counts": self.lost_counts(),
            "mean_pixel_agreement": float(np.mean([f.agreement for f in self.findings])) if self.findings else None,
            "images": [f.to_dict() for f in self.findings],
            **self.extra,
        }


def instance_view(
    images: np.ndarray | torch.Tensor,
    reconstructions: np.ndarray | torch.Tensor,
    segmenter: Segmenter,
    min_area: float = 0.02,
    keep_fraction: float = 0.25,
    l1: Sequence[float] | None = None,
    batch_size: int = 64,
) -> InstanceView:
    """Segment ``images`` and ``reconstructions`` (uint8 ``(n, 3, H, W)``) and find the lost classes."""
    images_t, recon_t = torch.as_tensor(images), torch.as_tensor(reconstructions)
    labels = torch.cat([segment_batch(segmenter, images_t[i : i + batch_size])
                        for i in range(0, len(images_t), batch_size)])
    recon_labels = torch.cat([segment_batch(segmenter, recon_t[i : i + batch_size])
                              for i in range(0, len(recon_t), batch_size)])
    names = tuple(str(c) for c in segmenter.classes)
    n_classes = len(names)
    area_x, area_r = class_areas(labels, n_classes), class_areas(recon_labels, n_classes)
    ignore = ignored_class(segmenter)
    if ignore is not None:
        area_x[:, ignore] = 0.0
    lost = (area_x >= min_area) & (area_r < keep_fraction * area_x)
    lost_t = torch.from_numpy(lost)
    pixel_class_lost = torch.gather(lost_t, 1, labels.flatten(1)).view_as(labels)
    mask = pixel_class_lost & (recon_labels != labels)
    agreement = (labels == recon_labels).flatten(1).double().mean(1).numpy()
    findings = []
    for i in range(len(labels)):
        lost_ids = np.flatnonzero(lost[i])
        findings.append(
            InstanceFinding(
                index=i,
                present=tuple(names[c] for c in np.flatnonzero(area_x[i] >= min_area)),
                lost=tuple(names[c] for c in lost_ids),
                lost_area=tuple(float(area_x[i, c] - area_r[i, c]) for c in lost_ids),
                agreement=float(agreement[i]),
                l1=None if l1 is None else float(l1[i]),
            )
        )
    return InstanceView(
        classes=names,
        images=images_t.numpy(),
        reconstructions=recon_t.numpy(),
        labels=labels.numpy(),
        reconstruction_labels=recon_labels.numpy(),
        lost_mask=mask.numpy(),
        findings=tuple(findings),
        min_area=min_area,
        keep_fraction=keep_fraction,
    )
