"""Critic view: a classifier two-sample test that also says where, and which images.

Small fully convolutional critics (:class:`Critic`) are cross-fitted to tell real from generated
images (:func:`compare_critic` -> :class:`CriticResult`): held-out accuracy with an exact p-value,
a per-pixel map of where generated images give themselves away, and the real images no generated
image resembles (modes the generator misses). See ``docs/critic.md``.
"""

from __future__ import annotations

from genlens.critic.analysis import CriticPlan, compare_critic
from genlens.critic.model import Critic, train_critic
from genlens.critic.result import CriticResult

__all__ = ["Critic", "CriticPlan", "CriticResult", "compare_critic", "train_critic"]
