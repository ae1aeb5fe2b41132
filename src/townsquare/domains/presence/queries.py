"""Reads of presence, shared by the gateway, the REST routes and other domains of one process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.presence.store import (
    MemoryPresence,
    PresenceInfo,
    PresenceStore,
    RedisPresence,
    now_ms,
)
from townsquare.realtime.registry import AudienceFn, registry

if TYPE_CHECKING:
    from townsquare.context import AppContext

_ATTR = "_townsquare_presence_service"


async def no_audience(ctx: AppContext, user_id: int) -> set[int]:
    """Nobody but the user's own devices."""
    return set()


class PresenceService:
    """One AppContext's presence store and who hears about its users."""

    def __init__(self, ctx: AppContext, *, audience: AudienceFn | None = None) -> None:
        s = ctx.settings
        self.ctx = ctx
        # None: whoever registered `@registry.presence_audience` (the social graph) decides
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

    def audience_fn(self) -> AudienceFn:
        """Who is told about a user's presence besides their own devices."""
        return self.audience or registry.audience or no_audience

    async def get(self, user_id: int) -> PresenceInfo:
        return await self.store.get(user_id, now=now_ms())

    async def online(self, user_ids: list[int]) -> list[int]:
        """Which of these users have a live connection on some node."""
        return await self.store.online(user_ids, now=now_ms())

    async def count(self, user_id: int) -> int:
        """The user's live connections over every node."""
        return await self.store.count(user_id, now=now_ms())

    async def shows_online(self, user_id: int) -> bool:
        """Whether the user lets others see their status (their settings decide)."""
        async with self.ctx.db.read() as session:
            return await accounts_queries.shows_online_status(session, user_id=user_id)

    async def visible_status(self, viewer_id: int, user_id: int) -> PresenceInfo:
        """What `viewer_id` may see of `user_id`: offline when the user hides their status."""
        info = await self.get(user_id)
        if viewer_id == user_id or await self.shows_online(user_id):
            return info
        return PresenceInfo(user_id, "offline", None, None, None, None, 0)


def presence_service(ctx: AppContext) -> PresenceService:
    """The one PresenceService of this AppContext (gateway and REST share it in embedded mode)."""
    service: PresenceService | None = getattr(ctx, _ATTR, None)
    if service is None:
        service = PresenceService(ctx)
        setattr(ctx, _ATTR, service)
    return service
