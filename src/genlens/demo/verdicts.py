"""Planted against found: did a view point at the defect the zoo planted, only notice that something is
off, or find nothing beyond noise?

The demo knows what it planted (``ZooGenerator.planted``: a box, a class, a collapse); each view's
findings say what it found and where. A region finding *locates* a planted box when its box overlaps
it; a class finding, or an atlas cell whose real images mostly show that class, *names* a planted
class, and a critic mode whose examples mostly show a dropped photograph *names* it; any other
significant finding *detects* that something differs without saying where. For a clean generator
every significant finding is a false alarm.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from genlens.views.section import Finding, Section

#: Verdicts, best first.
LOCATED, NAMED, DETECTED, NOTHING, FALSE_ALARM = "located", "named", "detected", "nothing beyond noise", "false alarm"
#: Generators that plant nothing: every significant finding on them is a false alarm.
CLEAN = ("clean", "photo_clean")


def overlaps(box: list[int], other: list[int]) -> bool:
    """Whether two ``[top, left, bottom, right]`` boxes (end-exclusive) share a pixel."""
    return box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]


def points_at(planted: Mapping[str, Any], finding: Finding) -> str | None:
    """``located``/``named`` when ``finding`` points at what was planted, else ``None``."""
    if "box" in planted and finding.kind == "region" and overlaps(list(finding.where), list(planted["box"])):
        return LOCATED
    photograph = planted.get("photograph")
    if photograph is not None and finding.kind == "mode" and _mostly_from(finding.sentence, photograph):
        return NAMED
    name = planted.get("class")
    if name is not None:
        if finding.kind == "class" and finding.where == name:
            return NAMED
        if finding.kind == "cell" and f"(real: mostly {name})" in finding.sentence:
            return NAMED
    return None


def _mostly_from(sentence: str, photograph: str) -> bool:
    """The examples a mode finding names (``coffee#12, coffee#40, ...``) mostly show ``photograph``."""
    names = re.findall(r"([A-Za-z_]+)#\d+", sentence)
    return bool(names) and sum(n == photograph for n in names) > len(names) / 2


def verdict(planted: Mapping[str, Any], section: Section) -> tuple[str, str]:
    """``(verdict, the finding's sentence or the section's summary)`` of one view on one generator."""
    if section.status != "ok":
        return section.status, section.reason
    found = sorted((f for f in section.findings if f.significant), key=lambda f: -f.score)
    if not found:
        return NOTHING, section.summary
    if planted.get("kind") in CLEAN:
        return FALSE_ALARM, found[0].sentence
    for f in found:
        hit = points_at(planted, f)
        if hit is not None:
            return hit, f.sentence
    return DETECTED, found[0].sentence
