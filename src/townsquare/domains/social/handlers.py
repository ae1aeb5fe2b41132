"""Realtime side of the social graph: who hears about a user's presence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from townsquare.domains.social import queries
from townsquare.realtime.registry import registry

if TYPE_CHECKING:
    from townsquare.context import AppContext

MAX_FOLLOWERS_TOLD = 1000  # a celebrity's presence is not broadcast to every follower


@registry.presence_audience
async def presence_audience(ctx: AppContext, user_id: int) -> set[int]:
    """Friends and (up to MAX_FOLLOWERS_TOLD) followers, without blocked users either way."""
    async with ctx.db.read() as session:
        friends = await queries.friend_ids(session, user_id=user_id)
        followers = await queries.follower_ids(session, user_id=user_id)
        hidden = await queries.hidden_ids(session, viewer_id=user_id)
    told = friends | set(sorted(followers)[:MAX_FOLLOWERS_TOLD])
    told -= hidden
    told.discard(user_id)
    return told
