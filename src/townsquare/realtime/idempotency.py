"""Idempotency keys for client events: a retry is applied once and acked with the first reply."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any, Literal, Protocol

State = Literal["new", "done", "pending"]


class IdempotencyStore(Protocol):
    """Claims a key before a handler runs and remembers the handler's reply."""

    async def begin(self, key: str) -> tuple[State, Any]: ...
    async def finish(self, key: str, reply: Any) -> None: ...
    async def abort(self, key: str) -> None: ...


class MemoryIdempotency:
    """Bounded in-process store; the oldest keys go first when it is full."""

    def __init__(self, *, ttl_seconds: float = 86400, max_keys: int = 100_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_keys
        self._items: OrderedDict[str, tuple[float, State, Any]] = OrderedDict()

    async def begin(self, key: str) -> tuple[State, Any]:
        now = time.monotonic()
        item = self._items.get(key)
        if item is not None and item[0] > now:
            return item[1], item[2]
        self._items[key] = (now + 60, "pending", None)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)
        return "new", None

    async def finish(self, key: str, reply: Any) -> None:
        self._items[key] = (time.monotonic() + self._ttl, "done", reply)

    async def abort(self, key: str) -> None:
        self._items.pop(key, None)


class RedisIdempotency:
    """Cluster store: `SET NX` claims a key on any node; the reply is kept as JSON."""

    def __init__(self, redis: Any, *, prefix: str, ttl_seconds: int = 86400) -> None:
        self._r = redis
        self._p = prefix + "idem:"
        self._ttl = ttl_seconds

    async def begin(self, key: str) -> tuple[State, Any]:
        if await self._r.set(self._p + key, "\x00pending", nx=True, ex=60):
            return "new", None
        raw = await self._r.get(self._p + key)
        if raw is None:
            return await self.begin(key)
        text = raw.decode()
        if text == "\x00pending":
            return "pending", None
        return "done", json.loads(text)

    async def finish(self, key: str, reply: Any) -> None:
        await self._r.set(self._p + key, json.dumps(reply), ex=self._ttl)

    async def abort(self, key: str) -> None:
        await self._r.delete(self._p + key)
