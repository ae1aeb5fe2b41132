"""Contracts of the chat events: messages, edits, receipts, unread counts, rooms and typing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.accounts import register
from tests.helpers.app import app_ctx
from tests.helpers.chat import BASE, Device, room, send
from tests.helpers.events import Expect, contract, tap, users, verify_action
from tests.helpers.gateway import until
from townsquare.domains.chat.schemas import (
    DeliveryReceipt,
    MessageUpdated,
    NewMessage,
    ReadReceipt,
    RoomChanged,
    UnreadChanged,
    UserTyping,
)
from townsquare.realtime.rooms import RoomLeft


async def trio(client: httpx.AsyncClient) -> tuple[Any, Any, Any, str]:
    """Three members and a group room `ana` made with the other two."""
    ana, ben, cat = [await register(client, n) for n in ("ana", "ben", "cat")]
    created = await room(client, ana, "group", ben, cat)
    return ana, ben, cat, str(created["id"])


@contract(RoomChanged)
async def test_created_room_is_told_to_each_member(client):
    ana, ben, cat = [await register(client, n) for n in ("ana", "ben", "cat")]

    def expected(created: dict[str, Any]) -> list[Expect]:
        change = {"roomId": created["id"], "change": "created", "userId": None}
        return [Expect(RoomChanged, users(who), change) for who in (ana, ben, cat)]

    await verify_action(client, lambda: room(client, ana, "group", ben, cat), expected)


@contract(NewMessage)
async def test_message_goes_to_the_chat_room(client):
    ana, _, _, room_id = await trio(client)

    def expected(message: dict[str, Any]) -> list[Expect]:
        return [Expect(NewMessage, {f"chat:{room_id}"}, {"roomId": room_id, "message": message})]

    await verify_action(client, lambda: send(client, ana, room_id, "hello"), expected)


@contract(MessageUpdated)
async def test_edit_goes_to_the_chat_room(client):
    ana, _, _, room_id = await trio(client)
    message = await send(client, ana, room_id, "helo")

    def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 200, reply.text
        edited = {"roomId": room_id, "change": "edited", "message": reply.json()}
        return [Expect(MessageUpdated, {f"chat:{room_id}"}, edited)]

    await verify_action(
        client,
        lambda: client.patch(
            f"{BASE}/messages/{message['id']}", headers=ana.headers, json={"message": "hello"}
        ),
        expected,
    )


@contract(ReadReceipt, UnreadChanged)
async def test_read_mark_goes_to_the_others_and_the_count_to_the_reader(client):
    ana, ben, cat, room_id = await trio(client)
    message = await send(client, ana, room_id, "read me")

    def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 200, reply.text
        mark = {"roomId": room_id, "userId": ben.id, "messageId": message["id"], "seq": 1}
        unread = {"roomId": room_id, "unreadCount": 0, "lastReadSeq": 1}
        return [
            Expect(ReadReceipt, users(ana, cat), mark),
            Expect(UnreadChanged, users(ben), unread),
        ]

    await verify_action(
        client,
        lambda: client.post(
            f"{BASE}/rooms/{room_id}/read", headers=ben.headers, json={"message_id": message["id"]}
        ),
        expected,
    )


@contract(DeliveryReceipt)
async def test_delivery_mark_goes_to_the_other_members(client):
    ana, ben, cat, room_id = await trio(client)
    message = await send(client, ana, room_id, "deliver me")

    def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 200, reply.text
        mark = {"roomId": room_id, "userId": cat.id, "messageId": message["id"], "seq": 1}
        return [Expect(DeliveryReceipt, users(ana, ben), mark)]

    await verify_action(
        client,
        lambda: client.post(
            f"{BASE}/rooms/{room_id}/delivered",
            headers=cat.headers,
            json={"message_id": message["id"]},
        ),
        expected,
    )


@contract(RoomLeft)
async def test_leaving_evicts_the_leaver_and_tells_the_room(client):
    ana, _, cat, room_id = await trio(client)

    async def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 204, reply.text
        history = await client.get(f"{BASE}/rooms/{room_id}/messages", headers=ana.headers)
        assert history.status_code == 200, history.text
        [note] = [m for m in history.json()["items"] if m["type"] == "system"]
        assert note["text"] == "cat left"
        return [
            Expect(RoomLeft, users(cat), {"room": f"chat:{room_id}"}),
            Expect(
                RoomChanged,
                {f"chat:{room_id}", *users(cat)},
                {"roomId": room_id, "change": "left", "userId": cat.id},
            ),
            Expect(NewMessage, {f"chat:{room_id}"}, {"roomId": room_id, "message": note}),
        ]

    await verify_action(
        client, lambda: client.post(f"{BASE}/rooms/{room_id}/leave", headers=cat.headers), expected
    )


@contract(UserTyping)
async def test_typing_is_relayed_to_the_others_and_expires(client, gateway_url):
    ana, ben, cat, room_id = await trio(client)
    with tap(app_ctx(client).bus) as seen:  # connecting announces ben's presence, maybe late
        device = await Device().connect(gateway_url, ben)
        await until(lambda: any(s.type == "presence:friend_activity" for s in seen))
    try:

        def expected(reply: dict[str, Any]) -> list[Expect]:
            assert reply == {"ok": True, "data": {"relayed": True}}, reply
            typing = {"roomId": room_id, "userId": ben.id, "isTyping": True}
            stopped = {**typing, "isTyping": False}  # after chat_typing_ttl_seconds
            return [
                Expect(UserTyping, users(ana, cat), typing),
                Expect(UserTyping, users(ana, cat), stopped),
            ]

        await verify_action(
            client,
            lambda: device.call("chat:typing", {"room_id": room_id, "is_typing": True}),
            expected,
        )
    finally:
        await device.close()
