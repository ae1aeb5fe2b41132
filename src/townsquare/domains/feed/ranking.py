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


def score_rows(
    rows: list[tuple[int, int, int, int, int]],
    weights: Weights,
    *,
    now_ms: float,
    shift: int,
    affinity: dict[int, float],
    friends: frozenset[int],
    me: int,
) -> list[tuple[int, float]]:
    """`score` over candidate rows (id, author, likes, comments, shares), without per-row
    objects: the same formula, computed for a few hundred rows on every first page."""
    decay = math.log(0.5) / weights.half_life_hours
    exp, log1p = math.exp, math.log1p
    w_rec, w_rel, w_eng = weights.recency, weights.relationship, weights.engagement
    w_friend, w_own = weights.friend, weights.own
    out = []
    for pid, author, likes, comments, shares in rows:
        age = max(0.0, (now_ms - (pid >> shift)) / 3_600_000)
        recency = exp(decay * age)
        engagement = min(1.0, log1p(likes + 2 * comments + 3 * shares) / ENGAGEMENT_SATURATION)
        aff = affinity.get(author, 0.0)
        relationship = min(1.0, log1p(aff) / AFFINITY_SATURATION) if aff > 0 else 0.0
        value = (
            w_rec * recency
            + w_rel * relationship
            + w_eng * engagement * recency**0.5
            + (w_friend if author in friends else 0.0)
            + (w_own if author == me else 0.0)
            + (aff * 0.1 if aff < 0 else 0.0)
        )
        out.append((pid, value))
    return out
