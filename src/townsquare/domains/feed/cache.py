"""Ranked-feed snapshots: the ordered post ids of one user's first page request, kept briefly
so later pages come from the same order (no duplicates or skips while posts arrive).

Embedded mode keeps them in this process; cluster mode in Redis, so any API process can serve
the next page.
"""

from __future__ import annotations

import json
import secrets
import time
import weakref
from collections import OrderedDict
from typing import Any, Protocol

from townsquare.context import AppContext

Snapshot = list[tuple[int, float]]
MAX_LOCAL_SNAPSHOTS = 20_000


class SnapshotStore(Protocol):
    async def put(self, user_id: int, items: Snapshot) -> str: ...
    async def get(self, user_id: int, token: str) -> Snapshot | None: ...


class LocalSnapshots:
    """In-process snapshots with a TTL and a size bound (oldest evicted first)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.items: OrderedDict[str, tuple[float, Snapshot]] = OrderedDict()

    async def put(self, user_id: int, items: Snapshot) -> str:
        token = secrets.token_urlsafe(9)
        self.items[f"{user_id}:{token}"] = (time.monotonic() + self.ttl, items)
        while len(self.items) > MAX_LOCAL_SNAPSHOTS:
            self.items.popitem(last=False)
        return token

    async def get(self, user_id: int, token: str) -> Snapshot | None:
        found = self.items.get(f"{user_id}:{token}")
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]


class RedisSnapshots:
    """Snapshots in Redis under `<namespace>:feed:<user>:<token>`, expiring by TTL."""

    def __init__(self, client: Any, namespace: str, ttl: int) -> None:
        self.redis = client
        self.prefix = f"{namespace}:feed:"
        self.ttl = ttl

    async def put(self, user_id: int, items: Snapshot) -> str:
        token = secrets.token_urlsafe(9)
        data = json.dumps([[pid, round(score, 5)] for pid, score in items])
        await self.redis.set(f"{self.prefix}{user_id}:{token}", data, ex=self.ttl)
        return token

    async def get(self, user_id: int, token: str) -> Snapshot | None:
        raw = await self.redis.get(f"{self.prefix}{user_id}:{token}")
        if raw is None:
            return None
        return [(int(pid), float(score)) for pid, score in json.loads(raw)]


_stores: weakref.WeakKeyDictionary[object, SnapshotStore] = weakref.WeakKeyDictionary()


def snapshots(ctx: AppContext) -> SnapshotStore:
    """This app context's snapshot store (created on first use)."""
    store = _stores.get(ctx.db)
    if store is None:
        settings = ctx.settings
        client = getattr(ctx.bus, "redis", None)  # the Redis bus shares its client
        if settings.redis_url and client is not None:
            store = RedisSnapshots(
                client, settings.redis_namespace, settings.feed_snapshot_ttl_seconds
            )
        else:
            store = LocalSnapshots(settings.feed_snapshot_ttl_seconds)
        _stores[ctx.db] = store
    return store
