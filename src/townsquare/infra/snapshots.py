"""Short-lived snapshots of ranked ids, so later pages read the order the first page saw (the
ranked feed, search by relevance): in this process embedded, in Redis in cluster mode so any
API process can serve the next page. Tokens are random and scoped to their owner."""

from __future__ import annotations

import json
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from townsquare.context import AppContext

T = TypeVar("T")


class SnapshotStore(Protocol[T]):
    async def put(self, owner_id: int, value: T) -> str: ...
    async def get(self, owner_id: int, token: str) -> T | None: ...


class LocalSnapshots(Generic[T]):
    """In-process snapshots with a TTL and a size bound (oldest evicted first)."""

    def __init__(self, ttl: float, max_items: int) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self.items: OrderedDict[str, tuple[float, T]] = OrderedDict()

    async def put(self, owner_id: int, value: T) -> str:
        token = secrets.token_urlsafe(9)
        self.items[f"{owner_id}:{token}"] = (time.monotonic() + self.ttl, value)
        while len(self.items) > self.max_items:
            self.items.popitem(last=False)
        return token

    async def get(self, owner_id: int, token: str) -> T | None:
        found = self.items.get(f"{owner_id}:{token}")
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]


class RedisSnapshots(Generic[T]):
    """Snapshots as JSON in Redis under `<prefix><owner>:<token>`, expiring by TTL."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        ttl: int,
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
    ) -> None:
        self.redis = client
        self.prefix = prefix
        self.ttl = ttl
        self.encode = encode
        self.decode = decode

    async def put(self, owner_id: int, value: T) -> str:
        token = secrets.token_urlsafe(9)
        data = json.dumps(self.encode(value))
        await self.redis.set(f"{self.prefix}{owner_id}:{token}", data, ex=self.ttl)
        return token

    async def get(self, owner_id: int, token: str) -> T | None:
        raw = await self.redis.get(f"{self.prefix}{owner_id}:{token}")
        return None if raw is None else self.decode(json.loads(raw))


_stores: weakref.WeakKeyDictionary[object, dict[str, Any]] = weakref.WeakKeyDictionary()


def store_for(
    ctx: AppContext,
    kind: str,
    *,
    ttl: int,
    max_local: int,
    encode: Callable[[T], Any],
    decode: Callable[[Any], T],
) -> SnapshotStore[T]:
    """This app context's store of one kind of snapshot (created on first use)."""
    stores = _stores.setdefault(ctx.db, {})
    store: SnapshotStore[T] | None = stores.get(kind)
    if store is None:
        client = getattr(ctx.bus, "redis", None)  # the Redis bus shares its client
        if ctx.settings.redis_url and client is not None:
            prefix = f"{ctx.settings.redis_namespace}:{kind}:"
            store = RedisSnapshots(client, prefix, ttl, encode, decode)
        else:
            store = LocalSnapshots(ttl, max_local)
        stores[kind] = store
    return store
