"""Cross-fitting the critic: every image is judged by a critic that never saw it.

The real and generated images are split alike into ``folds`` parts; for each part a fresh critic is
trained on the other parts and scores the held-out part. Only held-out scores are used, so a critic
that memorises its training images earns nothing: under the null hypothesis (the generator's images
are distributed as the real ones) a held-out image's score is independent of its label, which is what
makes the tests in :mod:`genlens.critic.stats` exact.

Per held-out image this keeps its image logit (the mean of its map) and accumulates, per fold and
class, the sums and sums of squares of its per-pixel map and of its block means -- enough for every
mean and standard error the result needs, without holding ``n`` maps in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F

from genlens._device import resolve_device
from genlens._memory import require
from genlens._progress import track
from genlens.critic.model import Critic, logit_maps, train_critic
from genlens.critic.result import TEST_FAMILIES, CriticResult
from genlens.critic.stats import (
    BlockLevel,
    FoldMoments,
    accuracy_test,
    auc_test,
    block_edges,
    mode_test,
    pooled_gap,
    scan_grids,
    scan_regions,
    standardised,
)
from genlens.io.base import ImageSource
from genlens.budget import DEFAULT_ALPHA, family_level
from genlens.statistics import familywise_z, permutation

#: A grid's pixel edges: (rows, cols).
Edges = tuple[np.ndarray, np.ndarray]
#: Examples of each kind shown in the grids and named in the mode finding.
EXAMPLES = 8
#: Standard deviation (px) of the light Gaussian smoothing of the displayed per-pixel map.
SMOOTH_SIGMA = 1.0


@dataclass(frozen=True)
class CriticPlan:
    """How the critic is trained and judged (the view's options, resolved)."""

    folds: int = 2
    epochs: int = 8
    min_steps: int = 6400
    width: int = 32
    depth: int = 3
    batch_size: int = 64
    lr: float = 2e-3
    crop: int = 12
    grid: int = 8
    quantile: float = 0.01
    seed: int = 0


@dataclass
class _Fold:
    """What the held-out images of one fold leave behind."""

    real_idx: np.ndarray
    fake_idx: np.ndarray
    real_scores: np.ndarray = field(default_factory=lambda: np.empty(0))
    fake_scores: np.ndarray = field(default_factory=lambda: np.empty(0))
    pixels: dict[str, FoldMoments] = field(default_factory=dict)
    blocks: dict[int, dict[str, FoldMoments]] = field(default_factory=dict)  # grid -> class -> moments


def fold_indices(n: int, folds: int, seed: int) -> list[np.ndarray]:
    """``folds`` disjoint random index sets covering ``range(n)`` (sorted within each)."""
    order = np.asarray(permutation(n, seed))
    return [np.sort(part) for part in np.array_split(order, folds)]


def compare_critic(real: ImageSource, fake: ImageSource, plan: CriticPlan, max_images: int | None,
                   device: str | torch.device | None = None, alpha: float = DEFAULT_ALPHA) -> CriticResult:
    """Cross-fit critics on the first ``n`` images of each set (``n`` equal, so chance accuracy is 0.5).

    ``alpha`` is the view's share of the false-alarm budget, split equally over its three families."""
    n = min(len(real), len(fake), max_images or max(len(real), len(fake)))
    height, width = real.image_size
    # both sets in memory, each fold's training copies of them, and their concatenation in training
    require(3 * 2 * n * 3 * height * width, f"the critic on {n} + {n} images of {height}x{width}",
            "pass --n with fewer images, or resize the images first")
    real_images, fake_images = real.read(0, n), fake.read(0, n)
    dev = resolve_device(device)
    grids = {g: (block_edges(real_images.shape[-2], g), block_edges(real_images.shape[-1], g))
             for g in scan_grids(plan.grid)}
    kernel = gaussian_kernel(SMOOTH_SIGMA)
    real_parts = fold_indices(n, plan.folds, plan.seed)
    fake_parts = fold_indices(n, plan.folds, plan.seed + 1)
    folds = []
    for k in track(range(plan.folds), "training critics", total=plan.folds):
        fold = _Fold(real_parts[k], fake_parts[k])
        train_real = np.concatenate([p for j, p in enumerate(real_parts) if j != k])
        train_fake = np.concatenate([p for j, p in enumerate(fake_parts) if j != k])
        model = train_critic(real_images[train_real], fake_images[train_fake], width=plan.width, depth=plan.depth,
                             epochs=plan.epochs, batch_size=plan.batch_size, lr=plan.lr, crop=plan.crop,
                             seed=plan.seed * 1000 + k, device=dev, min_steps=plan.min_steps)
        fold.real_scores, fold.pixels["real"], real_blocks = judge(model, real_images[fold.real_idx], grids, kernel, dev)
        fold.fake_scores, fold.pixels["fake"], fake_blocks = judge(model, fake_images[fold.fake_idx], grids, kernel, dev)
        fold.blocks = {g: {"real": real_blocks[g], "fake": fake_blocks[g]} for g in grids}
        folds.append(fold)
    return summarise(folds, real, fake, real_images, fake_images, plan, grids, model.receptive_field, alpha)


def judge(model: Critic, images: torch.Tensor, grids: dict[int, Edges], kernel: torch.Tensor,
          device: torch.device) -> tuple[np.ndarray, FoldMoments, dict[int, FoldMoments]]:
    """Held-out images' logits (mean of each map), the moments of their smoothed maps, and of their
    block means on each grid."""
    scores = []
    pixels = FoldMoments.empty(tuple(images.shape[-2:]))
    blocks = {g: FoldMoments.empty((len(e[0]) - 1, len(e[1]) - 1)) for g, e in grids.items()}
    for maps in logit_maps(model, images, device):
        scores.append(maps.mean(dim=(1, 2)).double().numpy())
        pixels.add(smooth(maps, kernel))
        for g, edges in grids.items():
            blocks[g].add(block_means(maps, edges))
    return np.concatenate(scores), pixels, blocks


def summarise(folds: list[_Fold], real: ImageSource, fake: ImageSource, real_images: torch.Tensor,
              fake_images: torch.Tensor, plan: CriticPlan, grids: dict[int, Edges],
              receptive_field: int, view_alpha: float = DEFAULT_ALPHA) -> CriticResult:
    """The held-out evidence of every fold turned into tests, maps and examples."""
    alpha = family_level(view_alpha, len(TEST_FAMILIES))
    real_scores = [f.real_scores for f in folds]
    fake_scores = [f.fake_scores for f in folds]
    accuracy, p_accuracy = accuracy_test(real_scores, fake_scores)
    auc, p = auc_test(real_scores, fake_scores)
    gap, gap_se = pooled_gap([f.pixels for f in folds])
    levels, block_gaps = [], {}
    for g, edges in grids.items():
        block_gaps[g], block_se = pooled_gap([f.blocks[g] for f in folds])
        block_z = np.divide(block_gaps[g], block_se, out=np.zeros_like(block_gaps[g]), where=block_se > 0)
        levels.append(BlockLevel(g, block_z, edges))
    # One-sided (only a positive gap gives the fakes away), Bonferroni over every block of every grid.
    n_blocks = sum(level.z.size for level in levels)
    threshold = familywise_z(n_blocks, 2 * alpha)
    regions = scan_regions(levels, threshold)
    finest = levels[0]
    mode = mode_test(real_scores, fake_scores, plan.quantile)
    real_order = np.concatenate([f.real_idx for f in folds])
    fake_order = np.concatenate([f.fake_idx for f in folds])
    pools = [np.concatenate([f.real_scores, f.fake_scores]) for f in folds]
    real_std = np.concatenate([standardised(f.real_scores, pool) for f, pool in zip(folds, pools)])
    fake_std = np.concatenate([standardised(f.fake_scores, pool) for f, pool in zip(folds, pools)])
    top_real = real_order[np.argsort(-real_std, kind="stable")[:EXAMPLES]]
    top_fake = fake_order[np.argsort(fake_std, kind="stable")[:EXAMPLES]]
    return CriticResult(
        n=len(real_order),
        folds=plan.folds,
        plan=plan,
        receptive_field=receptive_field,
        accuracy=accuracy,
        p_accuracy=p_accuracy,
        auc=auc,
        p=p,
        fold_accuracy=tuple(accuracy_test([r], [f])[0] for r, f in zip(real_scores, fake_scores)),
        fold_sizes=tuple(len(f.real_idx) for f in folds),
        gap=gap,
        gap_se=gap_se,
        block_gap=block_gaps[finest.grid],
        block_z=finest.z,
        block_edges=finest.edges,
        levels=tuple(levels),
        threshold_z=threshold,
        n_blocks=n_blocks,
        regions=tuple(regions),
        mode=mode,
        alpha=alpha,
        real_examples=tuple(int(i) for i in top_real),
        fake_examples=tuple(int(i) for i in top_fake),
        real_names=tuple(real.name_of(int(i)) for i in top_real),
        fake_names=tuple(fake.name_of(int(i)) for i in top_fake),
        real_example_images=real_images[torch.as_tensor(top_real)].numpy(),
        fake_example_images=fake_images[torch.as_tensor(top_fake)].numpy(),
        mean_real=real_images.float().mean(dim=0).permute(1, 2, 0).div(255.0).numpy(),
        image_size=(int(real_images.shape[-2]), int(real_images.shape[-1])),
        inputs={"real": real.describe(), "fake": fake.describe()},
    )


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """A normalised ``(1, 1, k, k)`` Gaussian kernel, ``k = 2 * ceil(2 sigma) + 1``."""
    radius = max(1, int(np.ceil(2 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def smooth(maps: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Maps ``(b, H, W)`` blurred by ``kernel`` (edges replicated): the displayed map, lightly denoised.

    Linear, so the standard error of the smoothed mean is computed from the smoothed per-image maps."""
    radius = kernel.shape[-1] // 2
    padded = F.pad(maps[:, None], (radius,) * 4, mode="replicate")
    return F.conv2d(padded, kernel)[:, 0]


def block_means(maps: torch.Tensor, edges: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
    """Mean of each map over each block of the grid ``edges`` (rows, cols): ``(b, rows, cols)``."""
    rows, cols = edges
    row_sums = torch.stack([maps[:, a:b].mean(dim=1) for a, b in pairwise(rows)], dim=1)
    return torch.stack([row_sums[:, :, a:b].mean(dim=2) for a, b in pairwise(cols)], dim=2)
