"""The in-process moving windows: limits hold over any span of the window, refusals do not
count, a key reopens as its oldest hit leaves the window, and idle keys are forgotten."""

from __future__ import annotations

import pytest

from townsquare.infra import ratelimit
from townsquare.infra.ratelimit import MemoryWindows, RateLimiter, Rule


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(ratelimit.time, "monotonic", c)
    return c


def test_moving_window_counts_the_last_n_seconds(clock: Clock) -> None:
    w, rule = MemoryWindows(), Rule(3, 10)
    assert [w.hit(rule, ("a",)) for _ in range(3)] == [True, True, True]
    assert w.hit(rule, ("a",)) is False  # refused, and not counted
    assert w.hit(rule, ("b",)) is True  # keys are separate
    assert w.retry_after(rule, ("a",)) == 10
    clock.now += 9.5
    assert w.hit(rule, ("a",)) is False and w.retry_after(rule, ("a",)) == 1
    clock.now += 0.6  # the first three hits have left the window
    assert [w.hit(rule, ("a",)) for _ in range(4)] == [True, True, True, False]


def test_a_burst_at_a_window_edge_is_still_limited(clock: Clock) -> None:
    w, rule = MemoryWindows(), Rule(2, 10)
    w.hit(rule, ("k",))
    clock.now += 9.0
    w.hit(rule, ("k",))
    clock.now += 1.5  # a fixed window would have reset here; a moving one still holds one hit
    assert w.hit(rule, ("k",)) is True and w.hit(rule, ("k",)) is False


def test_rules_do_not_share_counts_and_clear_forgets(clock: Clock) -> None:
    w = MemoryWindows()
    assert w.hit(Rule(1, 60), ("u",)) and w.hit(Rule(5, 1), ("u",))
    assert w.hit(Rule(1, 60), ("u",)) is False
    w.clear(Rule(1, 60), ("u",))
    assert w.hit(Rule(1, 60), ("u",)) is True


def test_idle_keys_are_swept(clock: Clock) -> None:
    w = MemoryWindows()
    for i in range(100):
        w.hit(Rule(5, 10), (str(i),))
    clock.now += MemoryWindows.SWEEP_SECONDS + 11
    w.hit(Rule(5, 10), ("fresh",))
    assert len(w._hits) == 1


async def test_rate_limiter_uses_memory_windows_without_redis(clock: Clock) -> None:
    limiter = RateLimiter(None)
    rule = Rule(2, 5)
    assert await limiter.hit(rule, "login", "ana") and await limiter.hit(rule, "login", "ana")
    assert await limiter.hit(rule, "login", "ana") is False
    assert await limiter.retry_after(rule, "login", "ana") == 5
    await limiter.clear(rule, "login", "ana")
    assert await limiter.retry_after(rule, "login", "ana") == 0
    assert await limiter.ping() is True
    await limiter.hit(rule, "x")
    await limiter.reset_all()
    assert await limiter.retry_after(rule, "x") == 0
