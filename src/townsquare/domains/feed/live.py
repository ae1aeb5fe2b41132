"""Live feed helpers that run after commit: like bursts are told as one aggregated event.

A burst is a window per post: the like that opens it is told at once, likes within it are
summed into one `feed:likes` event when it closes. Embedded mode keeps windows in this process;
cluster mode keeps them in Redis, so likes arriving at different API processes land in the same
window and only the process that opened it tells the author (once per post per window).
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

from townsquare.context import AppContext
from townsquare.core.events import Delivery, user_room
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed.schemas import LikesReceived
from townsquare.domains.posts import queries as posts_queries
from townsquare.domains.presence.queries import presence_service
from townsquare.domains.social import queries as social_queries
from townsquare.infra.bus import publish_deliveries

log = structlog.get_logger("townsquare.feed.live")
RECENT = 3


class LikeWindows(Protocol):
    """Per-post like windows: who opens one, and the likes queued in it until it closes."""

    async def open_or_queue(self, post_id: int, liker_id: int) -> str | None:
        """Open the post's window (returns its token) or queue the like in the open one."""
        ...

    async def take(self, post_id: int, token: str) -> list[int]:
        """Close the window the token opened and return the likes queued in it, oldest first."""
        ...


class LocalWindows:
    """Windows in this process (embedded mode: there is only one)."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[str, list[int]]] = {}

    async def open_or_queue(self, post_id: int, liker_id: int) -> str | None:
        found = self.pending.get(post_id)
        if found is not None:
            found[1].append(liker_id)
            return None
        token = secrets.token_hex(8)
        self.pending[post_id] = (token, [])
        return token

    async def take(self, post_id: int, token: str) -> list[int]:
        found = self.pending.get(post_id)
        if found is None or found[0] != token:
            return []
        del self.pending[post_id]
        return found[1]


# KEYS: window, queue. ARGV: token, liker, ttl ms. 1 when this call opened the window.
_OPEN = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3]) then return 1 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 0
"""
# KEYS: window, queue. ARGV: token. The queued likes; the window closes if it is still ours.
_TAKE = """
local likers = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return likers
"""


class RedisWindows:
    """Windows shared by every API process: `<ns>:feed:likes:<post>` (owner token, expiring)
    and `<ns>:feed:likes:<post>:q` (queued likers). Opening and taking are atomic scripts, so
    each like is told exactly once: as the opener, or in the one take that empties the queue.
    The keys expire well after the window, so a process that dies mid-window leaves nothing."""

    def __init__(self, client: Any, namespace: str, window: float) -> None:
        self.prefix = f"{namespace}:feed:likes:"
        self.ttl_ms = int(window * 1000) * 2 + 5000
        self._open = client.register_script(_OPEN)
        self._take = client.register_script(_TAKE)

    async def open_or_queue(self, post_id: int, liker_id: int) -> str | None:
        token = secrets.token_hex(8)
        keys = [f"{self.prefix}{post_id}", f"{self.prefix}{post_id}:q"]
        opened = await self._open(keys=keys, args=[token, liker_id, self.ttl_ms])
        return token if int(opened) == 1 else None

    async def take(self, post_id: int, token: str) -> list[int]:
        keys = [f"{self.prefix}{post_id}", f"{self.prefix}{post_id}:q"]
        likers = await self._take(keys=keys, args=[token])
        return [int(u) for u in likers]


class LikeAggregator:
    """Collects likes per post for a short window, then tells the author once.

    The first like of a quiet post is told at once; likes arriving within the window after it
    (at this process or, in cluster mode, any other) are summed into one `feed:likes` event at
    the window's end, told by the process that opened the window.
    """

    def __init__(self, ctx: AppContext, windows: LikeWindows) -> None:
        self.ctx = ctx
        self.window = ctx.settings.feed_like_aggregate_seconds
        self.windows = windows
        self.tasks: set[asyncio.Task[None]] = set()

    async def add(self, *, post_id: int, author_id: int, liker_id: int) -> None:
        token = await self.windows.open_or_queue(post_id, liker_id)
        if token is None:
            return  # a window is open (here or elsewhere); its opener tells this like
        try:
            await self._tell(post_id, author_id, [liker_id])
        finally:  # the window runs from when the opener was told, and always closes
            task = asyncio.create_task(self._flush_later(post_id, author_id, token))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _flush_later(self, post_id: int, author_id: int, token: str) -> None:
        await asyncio.sleep(self.window)
        try:
            likers = await self.windows.take(post_id, token)
            if likers:
                await self._tell(post_id, author_id, likers)
        except Exception:
            log.exception("like_aggregate_failed", post_id=post_id)

    async def _tell(self, post_id: int, author_id: int, likers: list[int]) -> None:
        async with self.ctx.db.read() as session:
            post = await posts_queries.get_post(session, post_id=post_id)
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
        settings = ctx.settings
        client = getattr(ctx.bus, "redis", None)  # the Redis bus shares its client
        windows: LikeWindows
        if settings.redis_url and client is not None:
            windows = RedisWindows(
                client, settings.redis_namespace, settings.feed_like_aggregate_seconds
            )
        else:
            windows = LocalWindows()
        found = LikeAggregator(ctx, windows)
        _aggregators[ctx.db] = found
    return found


async def note_like(ctx: AppContext, *, post_id: int, author_id: int, principal: Principal) -> None:
    """Tell the author about a committed like, aggregated with others of the same burst."""
    await aggregator(ctx).add(post_id=post_id, author_id=author_id, liker_id=principal.user_id)


def online_filter(ctx: AppContext) -> Callable[[list[int]], Awaitable[list[int]]]:
    """Who of a post's audience is connected (presence, shared with the gateway): live events
    are addressed to them only, so a post by an account with many followers costs what its
    online audience costs."""
    return presence_service(ctx).online
