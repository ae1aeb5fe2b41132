"""The feed score: recency with time decay, relationship, engagement, and preferences.

See docs/FEED.md for the formula and the settings that weigh each part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from townsquare.config import Settings

ENGAGEMENT_SATURATION = math.log1p(200.0)
AFFINITY_SATURATION = math.log1p(25.0)


@dataclass(frozen=True, slots=True)
class Signals:
    """What the ranking knows about one candidate post."""

    age_hours: float
    likes: int
    comments: int
    shares: int
    affinity: float
    is_friend: bool
    is_own: bool


@dataclass(frozen=True, slots=True)
class Weights:
    recency: float
    half_life_hours: float
    relationship: float
    engagement: float
    friend: float
    own: float

    @classmethod
    def from_settings(
        cls, settings: Settings, *, prioritize_friends: bool, prioritize_recent: bool
    ) -> Weights:
        """The configured weights, adjusted by the user's feed preferences."""
        return cls(
            recency=settings.feed_weight_recency * (2.0 if prioritize_recent else 1.0),
            half_life_hours=settings.feed_half_life_hours,
            relationship=settings.feed_weight_relationship,
            engagement=settings.feed_weight_engagement,
            friend=settings.feed_weight_friend * (3.0 if prioritize_friends else 1.0),
            own=settings.feed_weight_own,
        )


def score(signals: Signals, weights: Weights) -> float:
    """Sum of weighted parts, each in [0, 1]; engagement and affinity saturate (log)."""
    recency = 0.5 ** (max(0.0, signals.age_hours) / weights.half_life_hours)
    interactions = signals.likes + 2 * signals.comments + 3 * signals.shares
    engagement = min(1.0, math.log1p(interactions) / ENGAGEMENT_SATURATION)
    relationship = min(1.0, math.log1p(max(0.0, signals.affinity)) / AFFINITY_SATURATION)
    penalty = min(0.0, signals.affinity) * 0.1  # dismissals push an author down
    return float(
        weights.recency * recency
        + weights.relationship * relationship
        + weights.engagement * engagement * recency**0.5
        + weights.friend * signals.is_friend
        + weights.own * signals.is_own
        + penalty
    )
