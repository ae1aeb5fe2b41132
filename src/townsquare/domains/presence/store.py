"""Presence: online / idle / offline per user over all connections and nodes, plus activity text.

Embedded mode keeps it in memory. Cluster mode keeps it in Redis: each connection is a member of
a per-user sorted set scored by its heartbeat expiry, so a crashed node's connections age out and
any node's sweep turns its users offline. Status changes are decided atomically in Redis (a Lua
compare-and-set), so exactly one node announces each transition.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Status = Literal["online", "idle", "offline"]


@dataclass(frozen=True, slots=True)
class PresenceInfo:
    """What a user's presence is right now."""

    user_id: int
    status: Status
    activity: str | None
    metadata: dict[str, Any] | None
    last_active_ms: int | None
    last_seen_ms: int | None
    connections: int


@dataclass(frozen=True, slots=True)
class Transition:
    """A user's aggregated status changed from `old` to `new`."""

    user_id: int
    old: Status
    new: Status


def _status(value: str) -> Status:
    if value == "online":
        return "online"
    return "idle" if value == "idle" else "offline"


def now_ms() -> int:
    return int(time.time() * 1000)


class PresenceStore(Protocol):
    """Where presence lives; both implementations decide transitions atomically."""

    async def connect(self, user_id: int, conn_key: str, *, now: int) -> Transition | None: ...
    async def disconnect(self, user_id: int, conn_key: str, *, now: int) -> Transition | None: ...
    async def touch(
        self,
        user_id: int,
        *,
        now: int,
        activity: str | None = None,
        metadata: dict[str, Any] | None = None,
        set_activity: bool = False,
    ) -> Transition | None: ...
    async def heartbeat(self, conns: list[tuple[int, str]], *, now: int) -> None: ...
    async def evaluate(self, user_ids: list[int], *, now: int) -> list[Transition]: ...
    async def expired_users(self, *, now: int) -> list[int]: ...
    async def get(self, user_id: int, *, now: int) -> PresenceInfo: ...
    async def count(self, user_id: int, *, now: int) -> int: ...
    async def online(self, user_ids: list[int], *, now: int) -> list[int]: ...


@dataclass(slots=True)
class _Record:
    conns: set[str] = field(default_factory=set)
    status: Status = "offline"
    activity: str | None = None
    metadata: dict[str, Any] | None = None
    last_active: int = 0
    last_seen: int | None = None


class MemoryPresence:
    """Single-process presence; connections end with the process, so no heartbeats are needed."""

    def __init__(self, *, idle_after_ms: int) -> None:
        self._idle_ms = idle_after_ms
        self._users: dict[int, _Record] = {}

    def _status(self, rec: _Record, now: int) -> Status:
        if not rec.conns:
            return "offline"
        return "idle" if now - rec.last_active > self._idle_ms else "online"

    def _settle(self, user_id: int, rec: _Record, now: int) -> Transition | None:
        new = self._status(rec, now)
        old = rec.status
        if new == old:
            return None
        rec.status = new
        if new == "offline":
            rec.last_seen = now
        return Transition(user_id, old, new)

    async def connect(self, user_id: int, conn_key: str, *, now: int) -> Transition | None:
        rec = self._users.setdefault(user_id, _Record())
        rec.conns.add(conn_key)
        rec.last_active = now
        return self._settle(user_id, rec, now)

    async def disconnect(self, user_id: int, conn_key: str, *, now: int) -> Transition | None:
        rec = self._users.get(user_id)
        if rec is None:
            return None
        rec.conns.discard(conn_key)
        return self._settle(user_id, rec, now)

    async def touch(
        self,
        user_id: int,
        *,
        now: int,
        activity: str | None = None,
        metadata: dict[str, Any] | None = None,
        set_activity: bool = False,
    ) -> Transition | None:
        rec = self._users.setdefault(user_id, _Record())
        rec.last_active = now
        if set_activity:
            rec.activity, rec.metadata = activity, metadata
        return self._settle(user_id, rec, now)

    async def heartbeat(self, conns: list[tuple[int, str]], *, now: int) -> None:
        return None

    async def evaluate(self, user_ids: list[int], *, now: int) -> list[Transition]:
        out = []
        for user_id in user_ids:
            rec = self._users.get(user_id)
            if rec is not None and (t := self._settle(user_id, rec, now)) is not None:
                out.append(t)
        return out

    async def expired_users(self, *, now: int) -> list[int]:
        return []

    async def get(self, user_id: int, *, now: int) -> PresenceInfo:
        rec = self._users.get(user_id) or _Record()
        return PresenceInfo(
            user_id=user_id,
            status=self._status(rec, now),
            activity=rec.activity,
            metadata=rec.metadata,
            last_active_ms=rec.last_active or None,
            last_seen_ms=rec.last_seen,
            connections=len(rec.conns),
        )

    async def count(self, user_id: int, *, now: int) -> int:
        rec = self._users.get(user_id)
        return 0 if rec is None else len(rec.conns)

    async def online(self, user_ids: list[int], *, now: int) -> list[int]:
        """The users among `user_ids` with at least one connection."""
        users = self._users
        return [uid for uid in user_ids if (rec := users.get(uid)) is not None and rec.conns]


_EVALUATE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZCARD', KEYS[1])
local la = tonumber(redis.call('HGET', KEYS[2], 'last_active') or '0')
local status
if live == 0 then status = 'offline'
elseif now - la > tonumber(ARGV[2]) then status = 'idle'
else status = 'online' end
if live == 0 then
  redis.call('ZREM', KEYS[3], ARGV[3])
else
  local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('ZADD', KEYS[3], top[2], ARGV[3])
end
local old = redis.call('HGET', KEYS[2], 'status') or 'offline'
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if old ~= status then
  redis.call('HSET', KEYS[2], 'status', status)
  if status == 'offline' then redis.call('HSET', KEYS[2], 'last_seen', now) end
  return {old, status}
end
return false
"""


class RedisPresence:
    """Cluster presence in Redis: heartbeated connection sets and an atomic status per user."""

    def __init__(self, redis: Any, *, prefix: str, idle_after_ms: int, ttl_ms: int) -> None:
        self._r = redis
        self._p = prefix + "presence:"
        self._idle_ms = idle_after_ms
        self._ttl_ms = ttl_ms
        self._keep_ms = 30 * 86400 * 1000
        self._script = redis.register_script(_EVALUATE)

    def _keys(self, user_id: int) -> list[str]:
        return [f"{self._p}conns:{user_id}", f"{self._p}user:{user_id}", f"{self._p}online"]

    async def _eval(self, user_id: int, now: int) -> Transition | None:
        res = await self._script(
            keys=self._keys(user_id), args=[now, self._idle_ms, user_id, self._keep_ms]
        )
        if not res:
            return None
        old, new = (v.decode() if isinstance(v, bytes) else str(v) for v in res)
        return Transition(user_id, _status(old), _status(new))

    async def connect(self, user_id: int, conn_key: str, *, now: int) -> Transition | None:
        conns, user, _ = self._keys(user_id)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zadd(conns, {conn_key: now + self._ttl_ms})
            pipe.pexpire(conns, self._ttl_ms * 2)
            pipe.hset(user, "last_active", now)
            await pipe.execute()
        return await self._eval(user_id, now)

    async def disconnect(self, user_id: int, conn_key: str, *, now: int) -> Transition | None:
        await self._r.zrem(self._keys(user_id)[0], conn_key)
        return await self._eval(user_id, now)

    async def touch(
        self,
        user_id: int,
        *,
        now: int,
        activity: str | None = None,
        metadata: dict[str, Any] | None = None,
        set_activity: bool = False,
    ) -> Transition | None:
        user = self._keys(user_id)[1]
        mapping: dict[str, Any] = {"last_active": now}
        if set_activity:
            mapping["activity"] = activity or ""
            mapping["metadata"] = json.dumps(metadata) if metadata is not None else ""
        await self._r.hset(user, mapping=mapping)
        return await self._eval(user_id, now)

    async def heartbeat(self, conns: list[tuple[int, str]], *, now: int) -> None:
        if not conns:
            return
        async with self._r.pipeline(transaction=False) as pipe:
            for user_id, conn_key in conns:
                key, _, online = self._keys(user_id)
                pipe.zadd(key, {conn_key: now + self._ttl_ms})
                pipe.pexpire(key, self._ttl_ms * 2)
                pipe.zadd(online, {str(user_id): now + self._ttl_ms}, gt=True)
            await pipe.execute()

    async def evaluate(self, user_ids: list[int], *, now: int) -> list[Transition]:
        """Re-derive many users' status, 500 scripts per round trip."""
        out = []
        for start in range(0, len(user_ids), 500):
            chunk = user_ids[start : start + 500]
            async with self._r.pipeline(transaction=False) as pipe:
                for user_id in chunk:
                    await self._script(
                        keys=self._keys(user_id),
                        args=[now, self._idle_ms, user_id, self._keep_ms],
                        client=pipe,
                    )
                results = await pipe.execute()
            for user_id, res in zip(chunk, results, strict=True):
                if res:
                    old, new = (v.decode() if isinstance(v, bytes) else str(v) for v in res)
                    out.append(Transition(user_id, _status(old), _status(new)))
        return out

    async def expired_users(self, *, now: int) -> list[int]:
        """Users whose every heartbeat has lapsed (their node crashed or lost Redis)."""
        raw = await self._r.zrangebyscore(f"{self._p}online", "-inf", now, start=0, num=1000)
        return [int(v) for v in raw]

    async def get(self, user_id: int, *, now: int) -> PresenceInfo:
        conns, user, _ = self._keys(user_id)
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.zcount(conns, f"({now}", "+inf")
            pipe.hgetall(user)
            live, fields = await pipe.execute()
        f = {k.decode(): v.decode() for k, v in fields.items()}
        last_active = int(f["last_active"]) if f.get("last_active") else None
        status: Status
        if not live:
            status = "offline"
        elif last_active is None or now - last_active > self._idle_ms:
            status = "idle"
        else:
            status = "online"
        return PresenceInfo(
            user_id=user_id,
            status=status,
            activity=f.get("activity") or None,
            metadata=json.loads(f["metadata"]) if f.get("metadata") else None,
            last_active_ms=last_active,
            last_seen_ms=int(f["last_seen"]) if f.get("last_seen") else None,
            connections=int(live),
        )

    async def count(self, user_id: int, *, now: int) -> int:
        return int(await self._r.zcount(self._keys(user_id)[0], f"({now}", "+inf"))

    async def online(self, user_ids: list[int], *, now: int) -> list[int]:
        """The users among `user_ids` with a live connection on any node (one round trip)."""
        if not user_ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for uid in user_ids:
                pipe.zcount(self._keys(uid)[0], f"({now}", "+inf")
            counts = await pipe.execute()
        return [uid for uid, n in zip(user_ids, counts, strict=True) if n]
