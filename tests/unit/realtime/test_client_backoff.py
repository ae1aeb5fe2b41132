"""The SDK's reconnect schedule: exponential backoff with full jitter, 1 s doubling to 30 s."""

from __future__ import annotations

import random

from townsquare.client import backoff_delay


def test_full_jitter_stays_within_the_doubling_cap() -> None:
    rng = random.Random(3)
    for attempt in range(12):
        ceiling = min(30.0, 2.0**attempt)
        samples = [backoff_delay(attempt, rng) for _ in range(2000)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # full jitter spreads over the whole range, not just near the ceiling
        assert min(samples) < 0.1 * ceiling
        assert max(samples) > 0.9 * ceiling


def test_huge_attempt_counts_do_not_overflow() -> None:
    assert 0.0 <= backoff_delay(10_000, random.Random(1)) <= 30.0
