"""Contracts of the notification list's read events."""

from __future__ import annotations

import httpx

from tests.helpers.accounts import register
from tests.helpers.events import Expect, contract, users, verify_action
from tests.helpers.notifications import INBOX
from townsquare.domains.notifications.schemas import NotificationsRead


@contract(NotificationsRead)
async def test_read_marks_go_to_every_device_of_the_reader(client):
    ana, ben, cat = [await register(client, n) for n in ("ana", "ben", "cat")]
    await client.put("/api/v1/following/ana", headers=ben.headers)
    await client.post("/api/v1/friends/requests", headers=cat.headers, json={"username": "ana"})
    items = (await client.get(INBOX, headers=ana.headers)).json()["items"]
    assert [n["type"] for n in items] == ["friend_request", "follow"]
    newest = items[0]["id"]

    def one(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 200, reply.text
        read = {"notification_ids": [newest], "all": False, "unread_count": 1}
        return [Expect(NotificationsRead, users(ana), read)]

    await verify_action(
        client,
        lambda: client.put(
            f"{INBOX}/read", headers=ana.headers, json={"notification_ids": [newest]}
        ),
        one,
    )

    def rest(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 200, reply.text
        read = {"notification_ids": [], "all": True, "unread_count": 0}
        return [Expect(NotificationsRead, users(ana), read)]

    await verify_action(client, lambda: client.put(f"{INBOX}/read-all", headers=ana.headers), rest)
