"""Contracts of the social graph's events: friend requests, acceptances and follows."""

from __future__ import annotations

import httpx

from tests.helpers.accounts import register
from tests.helpers.events import Expect, contract, users, verify_action
from tests.helpers.notifications import newest_notification
from townsquare.domains.notifications.schemas import NotificationNew
from townsquare.domains.social.schemas import (
    FriendRequestAccepted,
    FriendRequestReceived,
    NewFollower,
)


@contract(FriendRequestReceived, NotificationNew)
async def test_friend_request_is_told_to_the_receiver(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")

    async def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 201, reply.text
        request = {
            "request_id": reply.json()["request"]["id"],
            "sender_id": ana.id,
            "sender_username": "ana",
            "message": "hi",
        }
        notification = await newest_notification(client, ben)
        assert notification["type"] == "friend_request"
        return [
            Expect(FriendRequestReceived, users(ben), request),
            Expect(NotificationNew, users(ben), {"notification": notification}),
        ]

    await verify_action(
        client,
        lambda: client.post(
            "/api/v1/friends/requests",
            headers=ana.headers,
            json={"username": "ben", "message": "hi"},
        ),
        expected,
    )


@contract(FriendRequestAccepted)
async def test_acceptance_is_told_to_the_sender(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    sent = await client.post(
        "/api/v1/friends/requests", headers=ana.headers, json={"username": "ben"}
    )
    request_id = sent.json()["request"]["id"]

    async def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 204, reply.text
        notification = await newest_notification(client, ana)
        assert notification["type"] == "friend_accepted"
        return [
            Expect(FriendRequestAccepted, users(ana), {"user_id": ben.id, "username": "ben"}),
            Expect(NotificationNew, users(ana), {"notification": notification}),
        ]

    await verify_action(
        client,
        lambda: client.post(f"/api/v1/friends/requests/{request_id}/accept", headers=ben.headers),
        expected,
    )


@contract(NewFollower)
async def test_new_follower_is_told_to_the_followed(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")

    async def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 204, reply.text
        notification = await newest_notification(client, ana)
        assert notification["type"] == "follow"
        return [
            Expect(NewFollower, users(ana), {"follower_id": ben.id, "follower_username": "ben"}),
            Expect(NotificationNew, users(ana), {"notification": notification}),
        ]

    await verify_action(
        client, lambda: client.put("/api/v1/following/ana", headers=ben.headers), expected
    )
