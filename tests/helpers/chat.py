"""Chat steps: app settings with short timers, HTTP room and message calls, socket devices."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import gateway
from tests.helpers.accounts import Member, register

BASE = "/api/v1/realtime/chat"
CHAT_SETTINGS: dict[str, Any] = {
    "jobs_run_inline": True,
    "jobs_retry_base_seconds": 0.05,
    "jobs_retry_max_seconds": 0.2,
    "jobs_poll_seconds": 0.05,
    "jobs_schedules_enabled": False,
    "chat_notify_delay_seconds": 0.3,
    "chat_typing_ttl_seconds": 0.3,
    "chat_typing_max_room_size": 5,
}


CHAT_EVENTS = (
    "chat:new_message",
    "chat:message_updated",
    "chat:user_typing",
    "chat:read_receipt",
    "chat:unread",
    "chat:room_updated",
    "room:left",
    "chat:delivery_receipt",
)


class Device(gateway.Device):
    """A socket device that records the chat events."""

    def __init__(self) -> None:
        super().__init__(CHAT_EVENTS)


async def room(
    client: httpx.AsyncClient, owner: Member, type_: str = "group", *members: Member, **extra: Any
) -> dict[str, Any]:
    """Create a room as `owner` with `members`; returns the room view."""
    body: dict[str, Any] = {"type": type_, "member_ids": [m.id for m in members], **extra}
    if type_ != "direct":
        body.setdefault("name", f"{type_} room")
    reply = await client.post(f"{BASE}/rooms", json=body, headers=owner.headers)
    assert reply.status_code in (200, 201), reply.text
    data: dict[str, Any] = reply.json()
    return data


async def send(
    client: httpx.AsyncClient, who: Member, room_id: str, text: str, **extra: Any
) -> dict[str, Any]:
    """Send a message over HTTP as `who`; returns the message view."""
    reply = await client.post(
        f"{BASE}/rooms/{room_id}/messages", json={"message": text, **extra}, headers=who.headers
    )
    assert reply.status_code in (200, 201), reply.text
    data: dict[str, Any] = reply.json()
    return data


async def people(client: httpx.AsyncClient, n: int, prefix: str = "chat") -> list[Member]:
    """Register `n` fresh members."""
    return [await register(client) for _ in range(n)]
