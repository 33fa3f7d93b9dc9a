"""One false-alarm budget per report: how ``significant`` is decided, once, for every finding.

A report is read as a verdict ("is this generator fine?"), so what matters is the chance that a
generator as good as the data gets *any* significant finding. That chance is ``alpha`` (default 1%:
a CI gate runs often), split in two levels, each valid under any dependence between the tests:

1. **views** -- ``alpha`` is split equally over the views that run and can find something
   (:func:`view_shares`); a view run alone (``genlens critic``) gets all of it;
2. **families** -- a view splits its share equally over its families of tests (the critic: its
   global test, its map, its mode test; the atlas: all cells of all layers and grids, one family);
3. **within a family** -- the family's own family-wise procedure: Holm's step-down on the tests'
   p-values (:func:`holm`), or a permutation max-statistic where the tests share their data (the
   atlas's cells).

A finding is significant when its family-adjusted p-value (``p_family``) is at most its family's
level. By the union bound over families the chance of any false finding is at most the sum of the
levels, ``alpha``. Every test's unit of independence is the image: several pixels, patches or
activations of one image are never counted as independent evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: The report's default chance of any significant finding for a generator as good as the data.
DEFAULT_ALPHA = 0.01
PROCEDURE = ("alpha split equally over the views that ran, then over each view's families of tests; "
             "within a family, Holm's step-down (or a permutation max-statistic, for the atlas's cells); "
             "a finding is significant when its family-adjusted p-value is at most its family's level")


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float in (0, 0.5]; anything else is a clear error."""
    from genlens.errors import ConfigError

    value = float(alpha)
    if not 0.0 < value <= 0.5:
        raise ConfigError(f"alpha (the report's false-alarm budget) must be in (0, 0.5], got {alpha!r}")
    return value


def view_shares(alpha: float, views: Iterable[str]) -> dict[str, float]:
    """``alpha`` split equally over ``views`` (the views that run and can find something)."""
    keys = list(dict.fromkeys(views))
    return {key: alpha / len(keys) for key in keys} if keys else {}


def family_level(view_alpha: float, families: int) -> float:
    """A view's share split equally over its ``families`` of tests."""
    return view_alpha / max(int(families), 1)


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise, valid under any dependence).

    The ``i``-th smallest p-value is multiplied by ``m - i`` (``i`` from 0), made non-decreasing in
    that order and capped at 1; NaN p-values (tests that could not be computed) stay NaN and do not
    count in ``m``.
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


@dataclass(frozen=True)
class Family:
    """One family of tests in a report: its name (``view/part``), its level and how many tests it holds."""

    name: str
    alpha: float
    tests: int
    procedure: str

    def to_dict(self) -> dict[str, object]:
        return {"family": self.name, "alpha": self.alpha, "tests": self.tests, "procedure": self.procedure}
