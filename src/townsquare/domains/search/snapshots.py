"""Relevance snapshots: the ranked ids of one search's first page, kept briefly so later pages
read the same order (no duplicates or skips while posts arrive and bm25 statistics drift).

Embedded mode keeps them in this process; cluster mode in Redis, so any API process can serve
the next page.
"""

from __future__ import annotations

import json
import secrets
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from townsquare.context import AppContext

MAX_LOCAL_SNAPSHOTS = 5_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Ranked ids and the fingerprint of the search (query, filters) that produced them."""

    fingerprint: str
    ids: list[int]


class SnapshotStore(Protocol):
    async def put(self, viewer_id: int, snapshot: Snapshot) -> str: ...
    async def get(self, viewer_id: int, token: str) -> Snapshot | None: ...


class LocalSnapshots:
    """In-process snapshots with a TTL and a size bound (oldest evicted first)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.items: OrderedDict[str, tuple[float, Snapshot]] = OrderedDict()

    async def put(self, viewer_id: int, snapshot: Snapshot) -> str:
        token = secrets.token_urlsafe(9)
        self.items[f"{viewer_id}:{token}"] = (time.monotonic() + self.ttl, snapshot)
        while len(self.items) > MAX_LOCAL_SNAPSHOTS:
            self.items.popitem(last=False)
        return token

    async def get(self, viewer_id: int, token: str) -> Snapshot | None:
        found = self.items.get(f"{viewer_id}:{token}")
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]


class RedisSnapshots:
    """Snapshots in Redis under `<namespace>:search:<viewer>:<token>`, expiring by TTL."""

    def __init__(self, client: Any, namespace: str, ttl: int) -> None:
        self.redis = client
        self.prefix = f"{namespace}:search:"
        self.ttl = ttl

    async def put(self, viewer_id: int, snapshot: Snapshot) -> str:
        token = secrets.token_urlsafe(9)
        data = json.dumps({"f": snapshot.fingerprint, "ids": snapshot.ids})
        await self.redis.set(f"{self.prefix}{viewer_id}:{token}", data, ex=self.ttl)
        return token

    async def get(self, viewer_id: int, token: str) -> Snapshot | None:
        raw = await self.redis.get(f"{self.prefix}{viewer_id}:{token}")
        if raw is None:
            return None
        value = json.loads(raw)
        return Snapshot(fingerprint=str(value["f"]), ids=[int(i) for i in value["ids"]])


_stores: weakref.WeakKeyDictionary[object, SnapshotStore] = weakref.WeakKeyDictionary()


def snapshots(ctx: AppContext) -> SnapshotStore:
    """This app context's snapshot store (created on first use)."""
    store = _stores.get(ctx.db)
    if store is None:
        settings = ctx.settings
        client = getattr(ctx.bus, "redis", None)  # the Redis bus shares its client
        ttl = settings.search_snapshot_ttl_seconds
        if settings.redis_url and client is not None:
            store = RedisSnapshots(client, settings.redis_namespace, ttl)
        else:
            store = LocalSnapshots(ttl)
        _stores[ctx.db] = store
    return store
