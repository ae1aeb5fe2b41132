"""Socket.IO events of the feed: `feed:subscribe` joins the caller's live feed rooms."""

from __future__ import annotations

from typing import Any

from townsquare.core.errors import Forbidden
from townsquare.domains.feed.schemas import FeedSubscribe
from townsquare.domains.posts.schemas import POST_TYPES
from townsquare.realtime.registry import HandlerContext, registry


def rooms_for(user_id: int, data: FeedSubscribe) -> set[str]:
    """`feed:<me>:following:<type>` carries posts of followed authors, `feed:<me>:<type>` those
    of friends one does not follow (and one's own); following-only joins just the first kind."""
    types = data.types or list(POST_TYPES)
    rooms = {f"feed:{user_id}:following:{t}" for t in types}
    if not data.following_only:
        rooms |= {f"feed:{user_id}:{t}" for t in types}
    return rooms


@registry.on("feed:subscribe", model=FeedSubscribe, state_changing=False)
async def subscribe(ctx: HandlerContext, data: FeedSubscribe) -> dict[str, Any]:
    """Receive `feed:new_post` and `feed:new_comment` for what the filter asks; a new
    subscription replaces the previous one."""
    wanted = rooms_for(ctx.user_id, data)
    for room in ctx.rooms():
        if room.startswith("feed:") and room not in wanted:
            await ctx.leave(room)
    for room in sorted(wanted - ctx.rooms()):
        await ctx.join(room)
    return {
        "types": sorted({room.rsplit(":", 1)[1] for room in wanted}),
        "following_only": data.following_only,
    }


@registry.on("feed:unsubscribe", state_changing=False)
async def unsubscribe(ctx: HandlerContext, data: Any) -> dict[str, Any]:
    """Stop the live feed on this connection."""
    for room in ctx.rooms():
        if room.startswith("feed:"):
            await ctx.leave(room)
    return {"subscribed": False}


@registry.room_policy("feed:")
async def may_join_feed(ctx: HandlerContext, room: str) -> None:
    """Only one's own feed rooms; what reaches them was filtered when it was published."""
    if not room.startswith(f"feed:{ctx.user_id}:"):
        raise Forbidden("Not your feed", code="forbidden")
