"""The critic view's result: held-out accuracy and its p-value, the gap map, its regions, the missed modes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from genlens._json import json_safe

from genlens.budget import Family
from genlens.critic.stats import BlockLevel, ModeTest, Region
from genlens.statistics import one_sided_p, z_of_p
from genlens.views.section import Finding

KEY = "critic"
TITLE = "Critic: where a classifier tells generated from real"
#: The tests behind the view's findings (each image is one unit: its held-out logit, its block means).
GLOBAL_TEST = "Mann-Whitney rank test of held-out critic logits, real vs generated (one-sided; folds: weighted z)"
MAP_TEST = "Welch z of a block's mean held-out logit, real vs generated images (one-sided)"
MODE_TEST = ("held-out real images above the top generated scores, negative hypergeometric (one-sided; folds: "
             "Bonferroni); a subset when the real images below the generated median rank as the generated ones do")
#: The view's families of tests (its global rank test, the block map, the missed modes): each gets an
#: equal part of the view's share of the false-alarm budget (:mod:`genlens.budget`).
TEST_FAMILIES = (f"{KEY}/global", f"{KEY}/map", f"{KEY}/mode")
#: Names of the surest-real images kept in a mode finding's ``where``.
EXAMPLE_NAMES = 8
#: The per-pixel map goes into the JSON only up to this many pixels (the block map always does).
MAX_MAP_PIXELS = 64 * 64


@dataclass(frozen=True, eq=False)
class CriticResult:
    """Everything the cross-fitted critics found; ``to_dict()`` is the JSON, ``to_section()`` the report's.

    Maps are in logit units: ``gap`` is the mean "fake" logit of held-out generated images minus that
    of held-out real images at each pixel (positive where generated images give themselves away).
    """

    n: int  # images per set (equal: chance accuracy is 0.5)
    folds: int
    plan: Any  # CriticPlan
    receptive_field: int
    accuracy: float  # held-out, a logit above 0 meaning "real"
    p_accuracy: float  # exact one-sided p of the accuracy (hypergeometric): the classic two-sample test
    auc: float
    p: float  # one-sided p of the held-out ranks (Mann-Whitney): the view's global test
    fold_accuracy: tuple[float, ...]
    fold_sizes: tuple[int, ...]  # held-out images per set in each fold
    gap: np.ndarray  # (H, W), lightly smoothed
    gap_se: np.ndarray  # (H, W)
    block_gap: np.ndarray  # (rows, cols) of the finest grid
    block_z: np.ndarray  # (rows, cols) of the finest grid
    block_edges: tuple[np.ndarray, np.ndarray]
    threshold_z: float  # a block is significant above this (one-sided Bonferroni over the blocks of all grids)
    n_blocks: int  # blocks of every grid tested: the map family's Bonferroni count
    regions: tuple[Region, ...]
    mode: ModeTest
    alpha: float  # each family's level: an equal third of the view's share of the false-alarm budget
    real_examples: tuple[int, ...]  # held-out reals the critics are surest are real, surest first
    fake_examples: tuple[int, ...]  # held-out fakes the critics are surest are fake, surest first
    real_names: tuple[str, ...]
    fake_names: tuple[str, ...]
    real_example_images: np.ndarray  # uint8 (k, 3, H, W)
    fake_example_images: np.ndarray
    mean_real: np.ndarray  # (H, W, 3) in [0, 1]
    image_size: tuple[int, int]
    inputs: dict[str, Any] = field(default_factory=dict)
    levels: tuple[BlockLevel, ...] = ()  # the z-scores on every grid tested, finest first

    @property
    def z(self) -> float:
        """The global test's p-value in noise units (0 at chance or below)."""
        return one_sided_z(self.p)

    @property
    def distinguishes(self) -> bool:
        """The critics' held-out scores tell the sets apart beyond chance (family-wise)."""
        return self.p < self.alpha

    def box_gap(self, box: tuple[int, int, int, int]) -> float:
        """The largest per-pixel gap inside ``box``."""
        top, left, bottom, right = box
        return float(self.gap[top:bottom, left:right].max())

    def families(self) -> tuple[Family, ...]:
        """The view's three families: its global rank test, every block of the map, the mode test."""
        glob, blocks, modes = TEST_FAMILIES
        return (Family(glob, self.alpha, 1, "single test"),
                Family(blocks, self.alpha, self.n_blocks, "Bonferroni over the blocks of every grid"),
                Family(modes, self.alpha, 1, "single test (folds: Bonferroni)"))

    def findings(self) -> tuple[Finding, ...]:
        """One ``global`` finding (the rank test), up to two ``region`` findings, one ``mode`` finding.

        A significant excess of surely-real images is a ``mode`` only when it is a subset of the real
        images beyond a shift of all of them (:attr:`ModeTest.subset`); otherwise it is the same
        global difference the rank test sees, and it is said so, as a ``global`` finding."""
        glob, blocks, modes = self.families()
        out = [Finding(KEY, "global", None, self.z, self.distinguishes, self._accuracy_sentence(), test=GLOBAL_TEST,
                       p=self.p, family=glob.name, p_family=self.p, alpha=self.alpha)]
        for r in self.regions:
            kind = "global" if r.significant and self.covers_most(r.box) else "region"
            p = one_sided_p(r.score)
            out.append(Finding(KEY, kind, list(r.box), r.score, r.significant, self._region_sentence(r), test=MAP_TEST,
                               p=p, family=blocks.name, p_family=min(1.0, p * self.n_blocks), alpha=self.alpha))
        significant = self.mode.p < self.alpha
        out.append(Finding(KEY, "mode" if self.mode.subset or not significant else "global",
                           {"real_examples": list(self.real_examples), "fake_examples": list(self.fake_examples),
                            "real_names": list(self.real_names[:EXAMPLE_NAMES])},
                           one_sided_z(self.mode.p), significant, self._mode_sentence(), test=MODE_TEST, p=self.mode.p,
                           family=modes.name, p_family=self.mode.p, alpha=self.alpha))
        return tuple(out)

    def covers_most(self, box: tuple[int, int, int, int]) -> bool:
        """A box over half the image or more: the generated images differ everywhere, which is no place
        (a dropped mode lowers the critic's logits all over), so it is a ``global`` finding."""
        top, left, bottom, right = box
        return (bottom - top) * (right - left) >= 0.5 * self.image_size[0] * self.image_size[1]

    def _accuracy_sentence(self) -> str:
        verdict = ("a small critic tells generated from real" if self.distinguishes
                   else "within what chance gives a critic of two sets from one distribution")
        return (f"held-out AUC {self.auc:.3f}, accuracy {self.accuracy:.3f} ({self.n} real + {self.n} generated, "
                f"{self.folds} folds): p = {self.p:.2g} (accuracy alone: p = {self.p_accuracy:.2g}), {verdict}")

    def _region_sentence(self, r: Region) -> str:
        top, left, bottom, right = r.box
        where = f"rows {top}-{bottom - 1}, cols {left}-{right - 1}"
        if r.grid and r.grid != self.block_z.shape[0]:
            where += f", on the {r.grid}x{r.grid} grid"
        if r.significant and self.covers_most(r.box):
            return (f"generated images give themselves away all over the image ({where}), not in one place: logit "
                    f"gap up to {self.box_gap(r.box):+.2f}, z = {r.score:.1f} (threshold {self.threshold_z:.1f})")
        if r.significant:
            return (f"generated images give themselves away at {where}: logit gap up to {self.box_gap(r.box):+.2f}, "
                    f"z = {r.score:.1f} (threshold {self.threshold_z:.1f})")
        return (f"the gap map is within noise: its strongest block ({where}) reaches z = {r.score:.1f}, "
                f"below the threshold {self.threshold_z:.1f}")

    def _mode_sentence(self) -> str:
        m = self.mode
        head = (f"{m.count} of {m.n_real} held-out real images score above the top {100 * m.quantile:g}% of "
                f"generated ones (chance: {m.expected:.1f}; p = {m.p:.2g})")
        names = ", ".join(self.real_names[:4])
        if m.p < self.alpha and m.subset:
            return (f"{head}, while the real images below the generated ones' median score rank as the generated "
                    f"ones do (AUC {m.bulk_auc:.3f}): about {100 * m.missed_share:.0f}% of the real images are a kind "
                    f"the generator misses, e.g. {names}")
        if m.p < self.alpha:
            return f"{head}, but {self._shift_clause()}: a difference every generated image shares, not a missed subset"
        return f"{head}: no missed mode beyond chance; surest real: {names}"

    def _shift_clause(self) -> str:
        m = self.mode
        if m.missed_share > 0.5:
            return (f"only {100 * m.bulk_share:.0f}% of the real images score below the generated ones' median "
                    "(a missed kind would leave about half of the rest there)")
        return (f"the real images below the generated ones' median still outscore the generated ones there "
                f"(AUC {m.bulk_auc:.3f}, p = {m.bulk_p:.2g})")

    def summary(self) -> str:
        """The headline from the findings: accuracy with p, where the fakes give themselves away, the modes."""
        parts = [f"Held-out critic AUC {self.auc:.3f}, accuracy {self.accuracy:.3f} (p = {self.p:.2g}): "
                 + ("generated images are told from real ones." if self.distinguishes else "within chance.")]
        found = [r for r in self.regions if r.significant and not self.covers_most(r.box)]
        if any(r.significant for r in self.regions) and not found:
            parts.append("They give themselves away all over the image, not in one place.")
        if found:
            boxes = "; ".join(f"rows {r.box[0]}-{r.box[2] - 1}, cols {r.box[1]}-{r.box[3] - 1} (z = {r.score:.1f})"
                              for r in found)
            parts.append(f"They give themselves away at {boxes}.")
        elif not any(r.significant for r in self.regions):
            parts.append("The per-pixel map is within noise: no place gives the generated images away.")
        if self.mode.p < self.alpha and self.mode.subset:
            parts.append(f"{self.mode.count} real images outscore nearly every generated one (chance "
                         f"{self.mode.expected:.1f}) while the rest score as the generated ones do: modes the "
                         f"generator misses, e.g. {', '.join(self.real_names[:3])}.")
        elif self.mode.p < self.alpha:
            parts.append(f"{self.mode.count} real images outscore nearly every generated one, but "
                         f"{self._shift_clause()}: no missed subset beyond that shared difference.")
        else:
            parts.append("No missed mode beyond chance.")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        small = self.gap.size <= MAX_MAP_PIXELS
        return json_safe({
            "n_real": self.n,
            "n_fake": self.n,
            "options": asdict(self.plan),
            "receptive_field": self.receptive_field,
            "accuracy": self.accuracy,
            "p_accuracy": self.p_accuracy,
            "auc": self.auc,
            "p": self.p,
            "z": self.z,
            "fold_accuracy": list(self.fold_accuracy),
            "fold_sizes": list(self.fold_sizes),
            "alpha_per_family": self.alpha,
            "map": {
                "gap": np.round(self.gap, 4) if small else None,
                "gap_se": np.round(self.gap_se, 4) if small else None,
                "block_gap": np.round(self.block_gap, 4),
                "block_z": np.round(self.block_z, 3),
                "block_edges": {"rows": self.block_edges[0], "cols": self.block_edges[1]},
                "threshold_z": self.threshold_z,
                "max_gap": float(self.gap.max()),
                "grids": {str(lv.grid): {"z": np.round(lv.z, 3), "max_z": float(lv.z.max())} for lv in self.levels},
            },
            "regions": [{"box": list(r.box), "z": r.score, "significant": r.significant, "blocks": r.blocks,
                         "grid": r.grid} for r in self.regions],
            "modes": {
                "count": self.mode.count,
                "expected": self.mode.expected,
                "p": self.mode.p,
                "quantile": self.mode.quantile,
                "bulk_auc": self.mode.bulk_auc,
                "bulk_p": self.mode.bulk_p,
                "bulk_share": self.mode.bulk_share,
                "missed_share": self.mode.missed_share,
                "subset": self.mode.subset,
                "real_examples": list(self.real_examples),
                "real_names": list(self.real_names),
                "fake_examples": list(self.fake_examples),
                "fake_names": list(self.fake_names),
            },
            "image_size": list(self.image_size),
            "inputs": self.inputs,
        })

    def to_section(self) -> Any:
        """The report section (figures drawn in :mod:`genlens.critic.figures`)."""
        from genlens.critic.figures import critic_section

        return critic_section(self)


def one_sided_z(p: float) -> float:
    """A one-sided p-value as the normal score with that upper tail (``z_of_p`` takes two-sided ones)."""
    return z_of_p(min(1.0, 2.0 * p))
