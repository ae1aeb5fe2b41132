"""Background jobs of posts: tell an author's followers about a new post, after it is stored."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from townsquare.domains.notifications import actions as notifications
from townsquare.domains.notifications import queries as notifications_queries
from townsquare.domains.posts import actions, queries
from townsquare.infra.jobs import registry

if TYPE_CHECKING:
    from townsquare.context import AppContext

# small transactions: on SQLite each holds the writer lock, and other requests wait for it
CHUNK = 500


@registry.job(actions.NOTIFY_FOLLOWERS_JOB, max_attempts=5, timeout=3600)
async def notify_followers(ctx: AppContext, payload: dict[str, Any]) -> None:
    """`new_post` for every follower who may see the post, a chunk per transaction, so a
    much-followed author's post is stored at once and never waits on 100,000 inserts; a retry
    skips the followers an earlier attempt already told."""
    post_id = int(payload["post_id"])
    async with ctx.db.read() as session:
        post = await queries.get_post(session, post_id=post_id)
        if post is None or post.shared_post_id is not None:
            return
        _, followers = await actions.live_audience(
            session, author_id=post.author_id, privacy=post.privacy
        )
    author = post.author_id
    target = notifications.Target("post", post_id)
    pending = sorted(followers - {author})
    for start in range(0, len(pending), CHUNK):
        await asyncio.sleep(0)  # requests waiting on the loop go between chunks
        chunk = pending[start : start + CHUNK]
        async with ctx.db.transaction() as session:
            told = await notifications_queries.told(
                session, recipient_ids=chunk, type="new_post", target_type="post", target_id=post_id
            )
            await notifications.notify_many(
                session,
                recipient_ids=[u for u in chunk if u not in told],
                type="new_post",
                actor_id=author,
                target=target,
            )
