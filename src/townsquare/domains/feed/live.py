"""Live feed helpers that run after commit: like bursts are told as one aggregated event."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from townsquare.context import AppContext
from townsquare.core.events import Delivery, user_room
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed.schemas import LikesReceived
from townsquare.domains.posts.models import Post
from townsquare.domains.social import queries as social_queries
from townsquare.infra.bus import publish_deliveries
from townsquare.realtime.presence import now_ms
from townsquare.realtime.presence_service import presence_service

log = structlog.get_logger("townsquare.feed.live")
RECENT = 3


@dataclass
class _Pending:
    author_id: int
    likers: list[int] = field(default_factory=list)


class LikeAggregator:
    """Collects likes per post for a short window, then tells the author once.

    The first like of a quiet post is told at once; likes arriving within the window after it
    are summed into one `feed:likes` event at the window's end.
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.window = ctx.settings.feed_like_aggregate_seconds
        self.pending: dict[int, _Pending] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def add(self, *, post_id: int, author_id: int, liker_id: int) -> None:
        burst = self.pending.get(post_id)
        if burst is not None:
            burst.likers.append(liker_id)
            return
        self.pending[post_id] = _Pending(author_id=author_id)
        await self._tell(post_id, author_id, [liker_id])
        task = asyncio.create_task(self._flush_later(post_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _flush_later(self, post_id: int) -> None:
        await asyncio.sleep(self.window)
        burst = self.pending.pop(post_id, None)
        if burst is not None and burst.likers:
            try:
                await self._tell(post_id, burst.author_id, burst.likers)
            except Exception:
                log.exception("like_aggregate_failed", post_id=post_id)

    async def _tell(self, post_id: int, author_id: int, likers: list[int]) -> None:
        async with self.ctx.db.read() as session:
            post = await session.get(Post, post_id)
            if post is None:
                return
            muted = await social_queries.muted_ids(session, viewer_id=author_id)
            hidden = await social_queries.hidden_ids(session, viewer_id=author_id)
            shown = [u for u in likers if u not in muted and u not in hidden]
            if not shown:
                return
            recent = list(dict.fromkeys(reversed(shown)))[:RECENT]
            users = await social_queries.summaries(session, user_ids=recent, media=self.ctx.media)
            total = post.likes_count
        event = LikesReceived(
            post_id=post_id,
            count=len(shown),
            total=total,
            recent=[users[u] for u in recent if u in users],
        )
        await publish_deliveries(
            self.ctx.bus, [Delivery(event=event, rooms=(user_room(author_id),))]
        )


_aggregators: weakref.WeakKeyDictionary[object, LikeAggregator] = weakref.WeakKeyDictionary()


def aggregator(ctx: AppContext) -> LikeAggregator:
    """The aggregator of this process's app context (one per database/bus pair)."""
    found = _aggregators.get(ctx.db)
    if found is None or found.ctx.bus is not ctx.bus:
        found = LikeAggregator(ctx)
        _aggregators[ctx.db] = found
    return found


async def note_like(ctx: AppContext, *, post_id: int, author_id: int, principal: Principal) -> None:
    """Tell the author about a committed like, aggregated with others of the same burst."""
    await aggregator(ctx).add(post_id=post_id, author_id=author_id, liker_id=principal.user_id)


def online_filter(ctx: AppContext) -> Callable[[list[int]], Awaitable[list[int]]]:
    """Who of a post's audience is connected (presence, shared with the gateway): live events
    are addressed to them only, so a post by an account with many followers costs what its
    online audience costs."""
    store = presence_service(ctx).store

    async def online(user_ids: list[int]) -> list[int]:
        return await store.online(user_ids, now=now_ms())

    return online
