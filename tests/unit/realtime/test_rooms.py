"""`evict_from_room`: what a domain action queues, and what it refuses."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.events import take_pending
from townsquare.realtime.rooms import RoomLeft, evict_from_room


def test_one_event_to_each_users_room_once() -> None:
    session = AsyncSession()
    evict_from_room(session, room="chat:42", user_ids=[7, 9, 7])
    (delivery,) = take_pending(session)
    assert delivery.event == RoomLeft(room="chat:42")
    assert delivery.event.type == "room:left"
    assert delivery.event.payload() == {"room": "chat:42"}
    assert delivery.rooms == ("user:7", "user:9")


def test_nobody_to_evict_queues_nothing() -> None:
    session = AsyncSession()
    evict_from_room(session, room="chat:42", user_ids=[])
    assert take_pending(session) == []


@pytest.mark.parametrize("room", ["", "user:7", "chat:1\nuser:7", "x" * 201])
def test_user_rooms_and_bad_names_are_refused(room: str) -> None:
    with pytest.raises(ValueError):
        evict_from_room(AsyncSession(), room=room, user_ids=[7])
