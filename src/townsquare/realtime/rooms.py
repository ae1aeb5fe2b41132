"""Room control for domain actions: take a user's open connections out of a room on every node.

Joining a room (`chat:<id>`, say) runs the room's policy once; nothing re-checks it while the
connection stays. So an action that ends someone's right to a room (they left, were removed, a
block now stands between the two people of a direct room) calls `evict_from_room` in its
transaction. After commit, a `room:left {room}` event goes to each user's own room
`user:<id>`; every gateway node with a connection of that user takes all of that user's
connections out of `room` before passing the event on to them, so clients learn it too. It is
durable like any user-room event: a client that was offline gets it on recovery.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.events import Event, emit, user_room
from townsquare.infra.bus import BusMessage

ROOM_LEFT_EVENT = "room:left"


class RoomLeft(Event):
    """Sent to a user's room so gateways drop their connections from `room` and clients know."""

    type: Literal["room:left"] = "room:left"
    room: str


def is_evictable(room: str) -> bool:
    """A room a connection can join, and so leave: not a user room, a sane name."""
    return bool(room) and len(room) <= 200 and "\n" not in room and not room.startswith("user:")


def evict_from_room(session: AsyncSession, *, room: str, user_ids: Iterable[int]) -> None:
    """After commit, drop the users' connections from `room` everywhere; only joins ask policy."""
    if not is_evictable(room):
        raise ValueError(f"not a room connections can be evicted from: {room!r}")
    users = dict.fromkeys(int(u) for u in user_ids)
    if users:
        emit(session, RoomLeft(room=room), to=[user_room(u) for u in users])


def evicted_room(msg: BusMessage) -> str | None:
    """The room a `room:left` in a user's room names, if it is one connections can leave."""
    if not msg.room.startswith("user:"):
        return None
    try:
        data = msg.data()
    except ValueError:
        return None
    room = data.get("room") if isinstance(data, dict) else None
    return room if isinstance(room, str) and is_evictable(room) else None
