"""Inception Score from classifier logits: ``exp E_x KL(p(y|x) || p(y))``, averaged over splits.

Follows torch-fidelity: rows are shuffled with ``numpy.random.RandomState(2020).permutation`` (pass
``shuffle_seed=None`` to keep the given order), softmax in float64, split ``i`` holds rows
``[i·N//splits, (i+1)·N//splits)``, and the ``±`` is the standard deviation over splits with ddof 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genlens.errors import InputError
from genlens.metrics._result import MetricResult
from genlens.metrics._validate import ArrayLike, as_features, check_positive_int, pick_device


@dataclass(frozen=True)
class InceptionScore(MetricResult):
    headline = "mean"

    mean: float
    std: float
    splits: int
    n: int
    shuffle_seed: int | None


def inception_score(
    logits: ArrayLike,
    splits: int = 10,
    *,
    shuffle_seed: int | None = 2020,
    device: str | torch.device | None = None,
) -> InceptionScore:
    """Inception Score of ``logits`` ``(n, classes)`` (pre-softmax scores, not probabilities).

    Needs at least one sample per split. The score lies in ``[1, classes]``: high when each sample
    is confidently one class *and* the classes are used evenly.
    """
    splits = check_positive_int(splits, "splits")
    dev = pick_device(logits, device=device)
    z = as_features(logits, "logits", device=dev, min_samples=splits, what=f"Inception Score with {splits} splits")
    n, classes = int(z.shape[0]), int(z.shape[1])
    if classes < 2:
        raise InputError(f"logits: need at least 2 classes, got shape {tuple(z.shape)}.")
    if shuffle_seed is not None:
        order = np.random.RandomState(shuffle_seed).permutation(n)
        z = z[torch.from_numpy(order).to(dev)]
    log_p = torch.log_softmax(z, dim=1)
    p = log_p.exp()
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        log_marginal = torch.log(p[lo:hi].mean(dim=0, keepdim=True))
        terms = p[lo:hi] * (log_p[lo:hi] - log_marginal)
        # a class no row of the split gives any mass has p = 0 and log p(y) = -inf: its term is 0, not NaN
        terms = torch.where(p[lo:hi] > 0, terms, torch.zeros_like(terms))
        kl = terms.sum(dim=1).mean()
        scores.append(float(kl.exp()))
    values = np.asarray(scores)
    return InceptionScore(float(values.mean()), float(values.std()), splits, n, shuffle_seed)
