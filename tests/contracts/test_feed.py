"""Contracts of the feed's aggregated like events, and the grouped notification they update."""

from __future__ import annotations

import httpx

from tests.helpers.accounts import Member, register
from tests.helpers.events import Expect, contract, users, verify_action
from tests.helpers.notifications import newest_notification
from tests.helpers.posts import post
from townsquare.domains.feed.schemas import LikesReceived
from townsquare.domains.notifications.schemas import NotificationNew, NotificationUpdated


def summary(member: Member) -> dict[str, str | None]:
    """A member as event payloads show them (no profile name or avatar set)."""
    return {
        "id": member.id,
        "username": member.username,
        "display_name": None,
        "avatar_thumbnail_url": None,
    }


@contract(LikesReceived, NotificationUpdated)
async def test_likes_are_told_to_the_author_and_group_one_notification(client):
    ana, ben, cat = [await register(client, n) for n in ("ana", "ben", "cat")]
    created = await post(client, ana, "like me")
    url = f"/api/v1/posts/{created['id']}/like"

    async def first(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 200, reply.text
        notification = await newest_notification(client, ana)
        likes = {"post_id": created["id"], "count": 1, "total": 1, "recent": [summary(ben)]}
        return [
            Expect(LikesReceived, users(ana), likes),
            Expect(NotificationNew, users(ana), {"notification": notification}),
        ]

    await verify_action(client, lambda: client.put(url, headers=ben.headers), first)

    async def second(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 200, reply.text
        notification = await newest_notification(client, ana)
        assert notification["count"] == 2
        # told at once or when the first like's window closes: the same event either way
        likes = {"post_id": created["id"], "count": 1, "total": 2, "recent": [summary(cat)]}
        return [
            Expect(LikesReceived, users(ana), likes),
            Expect(NotificationUpdated, users(ana), {"notification": notification}),
        ]

    await verify_action(client, lambda: client.put(url, headers=cat.headers), second)
