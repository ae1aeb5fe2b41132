"""Chat steps: app settings with short timers, HTTP room and message calls, socket devices."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import socketio

from tests.helpers.accounts import Member, register
from tests.helpers.gateway import WAIT

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


class Device:
    """One python-socketio client of a user, recording the chat events it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        for name in CHAT_EVENTS:
            self.sio.on(name, self._recorder(name), namespace="/realtime")

    def _recorder(self, name: str) -> Any:
        async def record(data: Any, *meta: Any) -> None:
            self.events.append((name, data))

        return record

    async def connect(self, url: str, member: Member) -> Device:
        await self.sio.connect(
            url,
            namespaces=["/realtime"],
            auth={"token": member.access_token},
            transports=["websocket"],
            wait_timeout=WAIT,
        )
        return self

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace="/realtime", timeout=WAIT)

    async def next(self, name: str, where: Any = None) -> Any:
        async def wait() -> Any:
            while True:
                for i, (seen, data) in enumerate(self.events):
                    if seen == name and (where is None or where(data)):
                        del self.events[i]
                        return data
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(wait(), WAIT)

    def named(self, name: str) -> list[Any]:
        return [d for n, d in self.events if n == name]

    async def close(self) -> None:
        await self.sio.disconnect()


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
