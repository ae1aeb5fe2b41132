"""Presence as a service shared by the gateway and the REST routes of one process.

It turns store transitions into `presence:friend_activity` events and persists last-seen times.
Who hears about a user is `audience` (the social graph will supply friends and followers; until
then it is nobody but the user's own devices). Users with show-online-status off are never
announced to others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select, update

from townsquare.core.events import user_room
from townsquare.realtime.presence import (
    MemoryPresence,
    PresenceInfo,
    PresenceStore,
    RedisPresence,
    Transition,
    now_ms,
)

if TYPE_CHECKING:
    from townsquare.context import AppContext

log = structlog.get_logger(__name__)

PRESENCE_EVENT = "presence:friend_activity"
AudienceFn = Callable[["AppContext", int], Awaitable[set[int]]]
_ATTR = "_townsquare_presence_service"
MAX_FOLLOWERS_TOLD = 1000  # a celebrity's presence is not broadcast to every follower


async def no_audience(ctx: AppContext, user_id: int) -> set[int]:
    """Nobody but the user's own devices."""
    return set()


async def social_audience(ctx: AppContext, user_id: int) -> set[int]:
    """Friends and (up to MAX_FOLLOWERS_TOLD) followers, without blocked users either way."""
    from townsquare.domains.social import queries as social_queries

    async with ctx.db.read() as session:
        friends = await social_queries.friend_ids(session, user_id=user_id)
        followers = await social_queries.follower_ids(session, user_id=user_id)
        hidden = await social_queries.hidden_ids(session, viewer_id=user_id)
    told = friends | set(sorted(followers)[:MAX_FOLLOWERS_TOLD])
    told -= hidden
    told.discard(user_id)
    return told


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


class PresenceService:
    """Connect/disconnect/activity bookkeeping plus the announcements they cause."""

    def __init__(self, ctx: AppContext, *, audience: AudienceFn = social_audience) -> None:
        s = ctx.settings
        self.ctx = ctx
        self.audience = audience
        self.sweep_seconds = s.gateway_presence_sweep_seconds
        self.ttl_seconds = s.gateway_presence_ttl_seconds
        idle_ms = int(s.gateway_idle_after_seconds * 1000)
        redis = getattr(ctx.bus, "redis", None)
        self.store: PresenceStore
        if redis is not None:
            self.store = RedisPresence(
                redis,
                prefix=getattr(ctx.bus, "prefix", "ts:"),
                idle_after_ms=idle_ms,
                ttl_ms=int(self.ttl_seconds * 1000),
            )
        else:
            self.store = MemoryPresence(idle_after_ms=idle_ms)

    async def connected(self, user_id: int, conn_key: str) -> None:
        await self._announce(await self.store.connect(user_id, conn_key, now=now_ms()))

    async def disconnected(self, user_id: int, conn_key: str) -> None:
        await self._announce(await self.store.disconnect(user_id, conn_key, now=now_ms()))

    async def activity(
        self,
        user_id: int,
        *,
        activity: str | None = None,
        metadata: dict[str, Any] | None = None,
        set_activity: bool = False,
    ) -> PresenceInfo:
        """Record activity now (idle turns online); announce when status or activity changed."""
        now = now_ms()
        before = await self.store.get(user_id, now=now) if set_activity else None
        transition = await self.store.touch(
            user_id, now=now, activity=activity, metadata=metadata, set_activity=set_activity
        )
        info = await self.store.get(user_id, now=now)
        changed = before is not None and (
            before.activity != info.activity or before.metadata != info.metadata
        )
        if transition is not None or changed:
            await self._publish(info)
        return info

    async def sweep(self, local_users: list[int]) -> None:
        """Turn idle users idle and users of crashed nodes offline."""
        now = now_ms()
        transitions = await self.store.evaluate(local_users, now=now)
        expired = await self.store.expired_users(now=now)
        if expired:
            transitions += await self.store.evaluate(expired, now=now)
        for t in transitions:
            await self._announce(t)

    async def get(self, user_id: int) -> PresenceInfo:
        return await self.store.get(user_id, now=now_ms())

    def to_wire(self, info: PresenceInfo) -> dict[str, Any]:
        return {
            "user_id": str(info.user_id),
            "status": info.status,
            "activity": info.activity,
            "metadata": info.metadata,
            "last_active_at": _iso(info.last_active_ms),
            "last_seen_at": _iso(info.last_seen_ms),
        }

    async def _announce(self, transition: Transition | None) -> None:
        if transition is None:
            return
        info = await self.store.get(transition.user_id, now=now_ms())
        if transition.new == "offline":
            await self._persist_last_seen(transition.user_id, info.last_seen_ms or now_ms())
        await self._publish(info)

    async def _publish(self, info: PresenceInfo) -> None:
        body = self.to_wire(info)
        rooms = [user_room(info.user_id)]
        others = await self.audience(self.ctx, info.user_id)
        others.discard(info.user_id)
        if others and await self._shows_online(info.user_id):
            listening = await self.store.online(sorted(others), now=now_ms())
            rooms += [user_room(uid) for uid in listening]
        await self.ctx.bus.publish_many((room, PRESENCE_EVENT, body) for room in rooms)

    async def _shows_online(self, user_id: int) -> bool:
        from townsquare.domains.accounts.models import UserSettings

        async with self.ctx.db.read() as session:
            value = await session.scalar(
                select(UserSettings.show_online_status).where(UserSettings.user_id == user_id)
            )
        return bool(value) if value is not None else True

    async def visible_status(self, viewer_id: int, user_id: int) -> PresenceInfo:
        """What `viewer_id` may see of `user_id`: offline when the user hides their status."""
        info = await self.get(user_id)
        if viewer_id == user_id or await self._shows_online(user_id):
            return info
        return PresenceInfo(user_id, "offline", None, None, None, None, 0)

    async def _persist_last_seen(self, user_id: int, ms: int) -> None:
        from townsquare.domains.accounts.models import User

        try:
            async with self.ctx.db.transaction() as session:
                await session.execute(
                    update(User)
                    .where(User.id == user_id)
                    .values(last_seen_at=datetime.fromtimestamp(ms / 1000, tz=UTC))
                )
        except Exception:
            log.exception("presence_last_seen_failed", user_id=user_id)


def presence_service(ctx: AppContext) -> PresenceService:
    """The one PresenceService of this AppContext (gateway and REST share it in embedded mode)."""
    service: PresenceService | None = getattr(ctx, _ATTR, None)
    if service is None:
        from townsquare.realtime.registry import registry

        service = PresenceService(ctx, audience=registry.audience or social_audience)
        setattr(ctx, _ATTR, service)
    return service
