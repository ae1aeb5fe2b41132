"""Like bursts are aggregated once per post per window, even when the likes arrive at
different API processes (cluster mode: the window lives in Redis)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from tests.helpers.accounts import register
from tests.helpers.app import app_ctx
from tests.helpers.posts import post
from townsquare.core.events import user_room
from townsquare.infra.bus import BusMessage

pytestmark = pytest.mark.slow  # waits out several like windows
WINDOW = 2.5  # wide enough that a loaded machine still lands every like of a burst in it


async def likes_told(client, author) -> list[dict]:
    """Start collecting the `feed:likes` events published to the author's room."""
    seen: list[dict] = []

    def handler(message: BusMessage) -> None:
        if message.event == "feed:likes":
            seen.append(message.data())

    await app_ctx(client).bus.subscribe(user_room(int(author.id)), handler)
    return seen


async def settle(seen: list[dict], count: int) -> None:
    for _ in range(200):
        if len(seen) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(WINDOW + 0.3)  # and nothing more arrives


async def test_likes_at_two_processes_are_told_once_per_window(make_client, backend):
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(make_client(feed_like_aggregate_seconds=WINDOW))
        # cluster: a second API process on the same database and Redis; embedded mode is one
        # process by design, so both "processes" are the same app there
        second = (
            await stack.enter_async_context(make_client(feed_like_aggregate_seconds=WINDOW))
            if backend == "cluster"
            else first
        )
        author = await register(first, "author")
        fans = [await register(first, f"fan{i}") for i in range(7)]
        created = await post(first, author, "like me from anywhere")
        seen = await likes_told(first, author)
        likes = [
            (first if i % 2 == 0 else second).put(
                f"/api/v1/posts/{created['id']}/like", headers=fan.headers
            )
            for i, fan in enumerate(fans[1:])
        ]
        opener = await first.put(f"/api/v1/posts/{created['id']}/like", headers=fans[0].headers)
        assert opener.status_code == 200
        replies = await asyncio.gather(*likes)
        assert all(r.status_code == 200 for r in replies)
        await settle(seen, 2)
        assert sum(e["count"] for e in seen) == 7  # each like told exactly once
        assert [e["count"] for e in seen] == [1, 6]
        assert seen[1]["total"] == 7
        assert seen[0]["recent"][0]["username"] == "fan0"
        assert len(seen[1]["recent"]) == 3

        # the window closed: the next like opens a new one and is told at once
        late = await register(second, "latecomer")
        await second.put(f"/api/v1/posts/{created['id']}/like", headers=late.headers)
        await settle(seen, 3)
        assert [e["count"] for e in seen] == [1, 6, 1]
        assert seen[2]["recent"][0]["username"] == "latecomer"


async def test_muted_and_blocked_likers_are_left_out_of_the_aggregate(make_client, backend):
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(make_client(feed_like_aggregate_seconds=WINDOW))
        second = (
            await stack.enter_async_context(make_client(feed_like_aggregate_seconds=WINDOW))
            if backend == "cluster"
            else first
        )
        author = await register(first, "author")
        fan, muted, other = [await register(first, n) for n in ("fan", "muted", "other")]
        await first.put("/api/v1/mutes/muted", headers=author.headers)
        created = await post(first, author, "quiet please")
        seen = await likes_told(first, author)
        await first.put(f"/api/v1/posts/{created['id']}/like", headers=fan.headers)
        await second.put(f"/api/v1/posts/{created['id']}/like", headers=muted.headers)
        await second.put(f"/api/v1/posts/{created['id']}/like", headers=other.headers)
        await settle(seen, 2)
        assert [e["count"] for e in seen] == [1, 1]
        assert [u["username"] for u in seen[1]["recent"]] == ["other"]
        assert seen[1]["total"] == 3
