"""The feed score: each part moves the score the documented way."""

from __future__ import annotations

import pytest

from townsquare.config import Settings
from townsquare.domains.feed.ranking import Signals, Weights, score

WEIGHTS = Weights.from_settings(
    Settings(_env_file=None), prioritize_friends=False, prioritize_recent=False
)


def signals(**changes) -> Signals:
    base = {
        "age_hours": 1.0,
        "likes": 0,
        "comments": 0,
        "shares": 0,
        "affinity": 0.0,
        "is_friend": False,
        "is_own": False,
    }
    return Signals(**{**base, **changes})


def test_recency_halves_every_half_life():
    fresh = score(signals(age_hours=0), WEIGHTS)
    older = score(signals(age_hours=WEIGHTS.half_life_hours), WEIGHTS)
    assert fresh == pytest.approx(1.0)
    assert older == pytest.approx(0.5)


def test_engagement_has_diminishing_returns():
    gains = [
        score(signals(likes=n + 10), WEIGHTS) - score(signals(likes=n), WEIGHTS)
        for n in (0, 100, 1000)
    ]
    assert gains[0] > gains[1] > gains[2] >= 0
    # comments and shares weigh more than likes
    assert score(signals(shares=1), WEIGHTS) > score(signals(comments=1), WEIGHTS)
    assert score(signals(comments=1), WEIGHTS) > score(signals(likes=1), WEIGHTS)
    # and engagement fades with age, so an old viral post loses to a fresh one
    assert score(signals(age_hours=24 * 7, likes=5000), WEIGHTS) < score(signals(), WEIGHTS)


def test_relationship_friend_and_dismissals():
    assert score(signals(affinity=5), WEIGHTS) > score(signals(), WEIGHTS)
    assert score(signals(is_friend=True), WEIGHTS) > score(signals(), WEIGHTS)
    assert score(signals(affinity=-4), WEIGHTS) < score(signals(), WEIGHTS)
    capped = score(signals(affinity=10_000), WEIGHTS) - score(signals(), WEIGHTS)
    assert capped == pytest.approx(WEIGHTS.relationship)


def test_preferences_change_weights():
    settings = Settings(_env_file=None)
    friends_first = Weights.from_settings(
        settings, prioritize_friends=True, prioritize_recent=False
    )
    recent_first = Weights.from_settings(settings, prioritize_friends=False, prioritize_recent=True)
    assert friends_first.friend == pytest.approx(3 * WEIGHTS.friend)
    assert recent_first.recency == pytest.approx(2 * WEIGHTS.recency)
    tuned = Weights.from_settings(
        Settings(_env_file=None, feed_weight_engagement=0.0),
        prioritize_friends=False,
        prioritize_recent=False,
    )
    assert score(signals(likes=50), tuned) == pytest.approx(score(signals(), tuned))
