"""Rate limits on the `limits` library: moving windows in memory, or in Redis for a cluster."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter


@dataclass(frozen=True, slots=True)
class Rule:
    """At most `amount` hits per `seconds`."""

    amount: int
    seconds: int

    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.seconds)


class RateLimiter:
    """Counts hits per (rule, key) and says when a key may act again."""

    def __init__(self, redis_url: str | None, *, namespace: str = "townsquare") -> None:
        storage: Storage
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            storage = RedisStorage(uri, implementation="redispy", key_prefix=namespace)
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(self, rule: Rule, *key: str) -> bool:
        """Record one hit; False when the key was already at its limit (then nothing counts)."""
        return await self._limiter.hit(rule.item(), *key)

    async def retry_after(self, rule: Rule, *key: str) -> int:
        """Seconds until the key may act again under this rule; 0 when it may act now."""
        if await self._limiter.test(rule.item(), *key):
            return 0
        stats = await self._limiter.get_window_stats(rule.item(), *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def clear(self, rule: Rule, *key: str) -> None:
        """Forget the hits of one key (for example after a successful login)."""
        await self._limiter.clear(rule.item(), *key)

    async def ping(self) -> bool:
        try:
            return bool(await self._storage.check())
        except Exception:
            return False

    async def reset_all(self) -> None:
        """Drop every counter (tests and `townsquare admin` use it)."""
        await self._storage.reset()
