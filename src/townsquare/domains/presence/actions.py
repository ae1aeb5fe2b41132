"""Presence writes: connections and activity change status; each change is told once.

Who hears about a user is the audience (`@registry.presence_audience`, the social graph: friends
and followers), filtered to those online; users with show-online-status off are announced to
their own devices only. Going offline also records the account's last-seen time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from townsquare.core.events import Delivery, user_room
from townsquare.domains.accounts import actions as accounts_actions
from townsquare.domains.presence.queries import presence_service
from townsquare.domains.presence.schemas import PresenceChanged
from townsquare.domains.presence.store import PresenceInfo, Transition, now_ms
from townsquare.infra.bus import publish_deliveries

if TYPE_CHECKING:
    from townsquare.context import AppContext

log = structlog.get_logger(__name__)


async def do_connect(ctx: AppContext, *, user_id: int, conn_key: str) -> None:
    """Count a new connection of the user; the first one turns them online."""
    store = presence_service(ctx).store
    await _announce(ctx, await store.connect(user_id, conn_key, now=now_ms()))


async def do_disconnect(ctx: AppContext, *, user_id: int, conn_key: str) -> None:
    """Forget a connection of the user; the last one turns them offline."""
    store = presence_service(ctx).store
    await _announce(ctx, await store.disconnect(user_id, conn_key, now=now_ms()))


async def do_activity(
    ctx: AppContext,
    *,
    user_id: int,
    activity: str | None = None,
    metadata: dict[str, Any] | None = None,
    set_activity: bool = False,
) -> PresenceInfo:
    """Record activity now (idle turns online); announce when status or activity changed."""
    store = presence_service(ctx).store
    now = now_ms()
    before = await store.get(user_id, now=now) if set_activity else None
    transition = await store.touch(
        user_id, now=now, activity=activity, metadata=metadata, set_activity=set_activity
    )
    info = await store.get(user_id, now=now)
    changed = before is not None and (
        before.activity != info.activity or before.metadata != info.metadata
    )
    if transition is not None or changed:
        await _publish(ctx, info)
    return info


async def do_heartbeat(ctx: AppContext, *, conns: list[tuple[int, str]]) -> None:
    """Keep a node's connections alive (cluster presence ages out those of a crashed node)."""
    await presence_service(ctx).store.heartbeat(conns, now=now_ms())


async def do_sweep(ctx: AppContext, *, local_users: list[int]) -> None:
    """Turn idle users idle and users of crashed nodes offline."""
    store = presence_service(ctx).store
    now = now_ms()
    transitions = await store.evaluate(local_users, now=now)
    expired = await store.expired_users(now=now)
    if expired:
        transitions += await store.evaluate(expired, now=now)
    for t in transitions:
        await _announce(ctx, t)


async def _announce(ctx: AppContext, transition: Transition | None) -> None:
    if transition is None:
        return
    info = await presence_service(ctx).store.get(transition.user_id, now=now_ms())
    if transition.new == "offline":
        await _persist_last_seen(ctx, transition.user_id, info.last_seen_ms or now_ms())
    await _publish(ctx, info)


async def _publish(ctx: AppContext, info: PresenceInfo) -> None:
    service = presence_service(ctx)
    rooms = [user_room(info.user_id)]
    others = await service.audience_fn()(ctx, info.user_id)
    others.discard(info.user_id)
    if others and await service.shows_online(info.user_id):
        listening = await service.store.online(sorted(others), now=now_ms())
        rooms += [user_room(uid) for uid in listening]
    delivery = Delivery(event=PresenceChanged.of(info), rooms=tuple(rooms))
    await publish_deliveries(ctx.bus, [delivery])


async def _persist_last_seen(ctx: AppContext, user_id: int, ms: int) -> None:
    try:
        async with ctx.db.transaction() as session:
            await accounts_actions.do_record_last_seen(
                session, user_id=user_id, at=datetime.fromtimestamp(ms / 1000, tz=UTC)
            )
    except Exception:
        log.exception("presence_last_seen_failed", user_id=user_id)
