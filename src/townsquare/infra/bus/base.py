"""What both buses share: the message shapes, offsets, pre-serialised arguments, the interface."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from townsquare.core.events import Delivery

DURABLE_PREFIX = "user:"


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One event for one room; `args` is the ready-to-frame JSON array of the EVENT packet."""

    room: str
    event: str
    offset: str | None
    args: str

    def data(self) -> Any:
        """The event's payload, decoded (only the rare control events need it)."""
        return json.loads(self.args)[1]


@dataclass(frozen=True, slots=True)
class Fanout:
    """One event for many rooms, serialised once: `args` is `["event", data]` without offset."""

    rooms: tuple[str, ...]
    event: str
    args: str


Handler = Callable[[BusMessage], None]


def is_durable(room: str) -> bool:
    """Per-user rooms get offsets and history; every other room is live-only."""
    return room.startswith(DURABLE_PREFIX)


def parse_offset(offset: str) -> tuple[int, int] | None:
    """Offsets are `<ms>-<seq>` (Redis Stream IDs); None when the text is not one."""
    ms, sep, seq = offset.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit() or len(offset) > 41:
        return None
    return int(ms), int(seq)


def event_args(event: str, data: Any) -> str:
    """The JSON array `["event", data]` of a Socket.IO EVENT packet."""
    return json.dumps([event, data], separators=(",", ":"), ensure_ascii=False)


def with_offset(args: str, offset: str) -> str:
    """Append the offset argument to a serialised `["event", data]` array."""
    return args[:-1] + ',{"offset":"' + offset + '"}]'


def check_name(name: str) -> None:
    if not name or "\n" in name or len(name) > 200:
        raise ValueError(f"invalid room or event name: {name!r}")


class Bus(Protocol):
    """Publish events to rooms; subscribers of a room on any node receive them."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...
    async def publish(self, room: str, event: str, data: Any) -> str | None: ...
    async def publish_many(self, items: Iterable[tuple[str, str, Any]]) -> None: ...
    async def publish_fanouts(self, fanouts: Sequence[Fanout]) -> None: ...
    async def subscribe(self, room: str, handler: Handler) -> None: ...
    async def unsubscribe(self, room: str, handler: Handler) -> None: ...
    async def history(self, room: str, after: str) -> list[BusMessage] | None: ...


async def publish_deliveries(bus: Bus, deliveries: list[Delivery]) -> None:
    """Publish committed events in order, each serialised once however many rooms it names."""
    fanouts = [
        Fanout(
            delivery.rooms,
            delivery.event.type,
            event_args(delivery.event.type, delivery.event.payload()),
        )
        for delivery in deliveries
        if delivery.rooms
    ]
    if fanouts:
        await bus.publish_fanouts(fanouts)


def fanouts_of(items: Iterable[tuple[str, str, Any]]) -> list[Fanout]:
    """Group `(room, event, data)` runs that share one data object, so each is encoded once."""
    out: list[Fanout] = []
    rooms: list[str] = []
    last_event = ""
    last_data: Any = None
    for room, event, data in items:
        if rooms and (data is not last_data or event != last_event):
            out.append(Fanout(tuple(rooms), last_event, event_args(last_event, last_data)))
            rooms = []
        rooms.append(room)
        last_event, last_data = event, data
    if rooms:
        out.append(Fanout(tuple(rooms), last_event, event_args(last_event, last_data)))
    return out
