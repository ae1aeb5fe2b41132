"""Rate limits as moving windows: in process (embedded), or in Redis for a cluster (on the
`limits` library)."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter


@dataclass(frozen=True, slots=True)
class Rule:
    """At most `amount` hits per `seconds`."""

    amount: int
    seconds: int

    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.seconds)


class MemoryWindows:
    """Moving windows in this process: for each (rule, key) the times of its recent hits.

    Plain Python on the event loop: the `limits` memory storage ran a timer and a thread hop
    for its expiry, which cost ~4% of a core on the chat benchmark's hot path.
    """

    SWEEP_SECONDS = 60.0

    def __init__(self) -> None:
        self._hits: dict[tuple[object, ...], deque[float]] = {}
        self._swept = time.monotonic()

    def _window(self, rule: Rule, key: tuple[str, ...], now: float) -> deque[float]:
        full = (rule.amount, rule.seconds, *key)
        hits = self._hits.get(full)
        if hits is None:
            hits = self._hits[full] = deque()
        horizon = now - rule.seconds
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits

    def hit(self, rule: Rule, key: tuple[str, ...]) -> bool:
        now = time.monotonic()
        if now - self._swept > self.SWEEP_SECONDS:
            self._sweep(now)
        hits = self._window(rule, key, now)
        if len(hits) >= rule.amount:
            return False
        hits.append(now)
        return True

    def retry_after(self, rule: Rule, key: tuple[str, ...]) -> int:
        now = time.monotonic()
        hits = self._window(rule, key, now)
        if len(hits) < rule.amount:
            return 0
        return max(1, math.ceil(hits[0] + rule.seconds - now))

    def clear(self, rule: Rule, key: tuple[str, ...]) -> None:
        self._hits.pop((rule.amount, rule.seconds, *key), None)

    def reset(self) -> None:
        self._hits.clear()

    def _sweep(self, now: float) -> None:
        """Forget keys whose every hit has left its window, so memory follows active keys."""
        self._swept = now
        stale = [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - _seconds(k)]
        for k in stale:
            del self._hits[k]


class RateLimiter:
    """Counts hits per (rule, key) and says when a key may act again."""

    def __init__(self, redis_url: str | None, *, namespace: str = "townsquare") -> None:
        self._memory: MemoryWindows | None = None
        self._storage: RedisStorage | None = None
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            self._storage = RedisStorage(uri, implementation="redispy", key_prefix=namespace)
            self._limiter = MovingWindowRateLimiter(self._storage)
        else:
            self._memory = MemoryWindows()

    async def hit(self, rule: Rule, *key: str) -> bool:
        """Record one hit; False when the key was already at its limit (then nothing counts)."""
        if self._memory is not None:
            return self._memory.hit(rule, key)
        return await self._limiter.hit(rule.item(), *key)

    async def retry_after(self, rule: Rule, *key: str) -> int:
        """Seconds until the key may act again under this rule; 0 when it may act now."""
        if self._memory is not None:
            return self._memory.retry_after(rule, key)
        if await self._limiter.test(rule.item(), *key):
            return 0
        stats = await self._limiter.get_window_stats(rule.item(), *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def clear(self, rule: Rule, *key: str) -> None:
        """Forget the hits of one key (for example after a successful login)."""
        if self._memory is not None:
            self._memory.clear(rule, key)
            return
        await self._limiter.clear(rule.item(), *key)

    async def ping(self) -> bool:
        if self._storage is None:
            return True
        try:
            return bool(await self._storage.check())
        except Exception:
            return False

    async def reset_all(self) -> None:
        """Drop every counter (tests and `townsquare admin` use it)."""
        if self._memory is not None:
            self._memory.reset()
            return
        assert self._storage is not None
        await self._storage.reset()


def _seconds(key: tuple[object, ...]) -> float:
    """The window length stored in a MemoryWindows key."""
    seconds = key[1]
    assert isinstance(seconds, int)
    return float(seconds)
