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


def test_bulk_scoring_matches_the_formula():
    from townsquare.core.ids import NODE_BITS, SEQUENCE_BITS
    from townsquare.domains.feed.ranking import score_rows

    shift = NODE_BITS + SEQUENCE_BITS
    now_ms = 10_000_000_000
    rows = [
        (((now_ms - 3_600_000 * h) << shift) | 5, author, likes, comments, shares)
        for h, author, likes, comments, shares in (
            (0, 1, 0, 0, 0),
            (5, 2, 40, 3, 1),
            (30, 3, 2, 0, 0),
            (2, 4, 0, 1, 0),
        )
    ]
    affinity = {2: 4.0, 3: -2.0}
    bulk = dict(
        score_rows(
            rows,
            WEIGHTS,
            now_ms=now_ms,
            shift=shift,
            affinity=affinity,
            friends=frozenset({4}),
            me=1,
        )
    )
    for pid, author, likes, comments, shares in rows:
        one = score(
            signals(
                age_hours=(now_ms - (pid >> shift)) / 3_600_000,
                likes=likes,
                comments=comments,
                shares=shares,
                affinity=affinity.get(author, 0.0),
                is_friend=author == 4,
                is_own=author == 1,
            ),
            WEIGHTS,
        )
        assert bulk[pid] == pytest.approx(one)
