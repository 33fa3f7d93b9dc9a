"""The critic view: a classifier two-sample test whose classifier also says where and which images.

``fit`` only keeps the real images and the options: the critic learns real *against* a particular
generated set, so it is trained per comparison in ``compare`` (cross-fitted; see
:mod:`genlens.critic.analysis`). Not tracked: training critics at every step would cost more than
the step, and a critic's numbers from different steps are not on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from genlens.critic.analysis import CriticPlan, compare_critic
from genlens.critic.result import KEY, TEST_FAMILIES, TITLE, CriticResult
from genlens.io.base import ImageSource
from genlens.views.base import RunContext, View, size_mismatch
from genlens.views.options import option

#: Held-out images per set and fold below which the map's normal approximation is not trusted.
MIN_PER_FOLD = 20


@dataclass(frozen=True)
class CriticOptions:
    folds: int = option(2, "Cross-fitting folds: each image is scored by a critic trained on the other folds "
                        "(2 = the most training data per held-out image for the fewest trainings).", min=2, max=10)
    epochs: int = option(8, "Training epochs of each critic.", min=1)
    min_steps: int = option(6400, "Train each critic on at least this many batches, whatever the epochs: subtle "
                            "defects (a blurred or JPEG-damaged quadrant of photo crops) need thousands of small "
                            "batches to be learned.", min=0)
    width: int = option(32, "Channels of the critic's hidden convolutions.", min=1)
    depth: int = option(3, "3x3 convolutions of the critic; its receptive field is 2*depth+1 pixels.", min=1, max=8)
    max_images: int | None = option(2000, "Use at most the first N images of each input (both sets use the same "
                                    "number, so chance accuracy is 0.5).", flag="--n", min=40)
    batch_size: int = option(64, "Images per training batch.", min=1)
    lr: float = option(2e-3, "Adam learning rate.", min=0.0)
    crop: int = option(12, "Train on random windows of this side (pixels); the critic is fully convolutional "
                       "with a 7-px window, so it learns the same from windows, at a cost that does not grow with "
                       "the image size, and scores whole images (0 = train on whole images).", min=0)
    grid: int = option(8, "Blocks per side of the finest grid on which the map is tested; coarser grids (halved "
                       "down to 2x2) are tested too, one-sided Bonferroni over every block of every grid.", min=1)
    quantile: float = option(0.01, "Mode test: count real images scored above this top fraction of generated ones.",
                             min=0.001, max=0.5)


@dataclass(frozen=True, eq=False)
class FittedCritic:
    """The critic view's reference: the real images and the options (critics train per comparison)."""

    options: CriticOptions
    real: ImageSource


class CriticView(View):
    key = KEY
    title = TITLE
    Options = CriticOptions
    tracks = False
    families = TEST_FAMILIES

    def applies(self, real: ImageSource, fake: ImageSource | None, options: CriticOptions) -> str | None:
        """One image size (the map is pixel by pixel) and enough images for every fold."""
        if fake is not None and (mismatch := size_mismatch(real.image_size, fake.image_size, "the critic")):
            return mismatch
        need = max(40, MIN_PER_FOLD * options.folds)
        available = min(len(real), len(fake) if fake is not None else need, options.max_images or need)
        if available < need:
            return f"the critic needs at least {need} real and {need} generated images ({options.folds} folds)"
        return None

    def fit(self, real: ImageSource, options: CriticOptions, ctx: RunContext) -> FittedCritic:
        return FittedCritic(options, real)

    def compare(self, reference: FittedCritic, fake: ImageSource, ctx: RunContext) -> CriticResult:
        o = reference.options
        plan = CriticPlan(folds=o.folds, epochs=o.epochs, min_steps=o.min_steps, width=o.width, depth=o.depth,
                          batch_size=o.batch_size, lr=o.lr, crop=o.crop, grid=o.grid, quantile=o.quantile,
                          seed=ctx.seed)
        return compare_critic(reference.real, fake, plan, o.max_images, ctx.device, alpha=ctx.alpha)
