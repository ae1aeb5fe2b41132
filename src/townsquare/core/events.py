"""Typed domain events, queued on the transaction and published only after it commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

PENDING_KEY = "townsquare.pending_events"


class Event(BaseModel):
    """Base of every event; subclasses fix `type` with a Literal, the Socket.IO event name."""

    model_config = ConfigDict(frozen=True)
    type: str

    def payload(self) -> dict[str, Any]:
        """The JSON-ready body a client receives (IDs as strings, times as ISO 8601)."""
        return self.model_dump(mode="json", exclude={"type"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event addressed to rooms (`user:<id>`, `chat:<id>`, ...)."""

    event: Event
    rooms: tuple[str, ...]


def user_room(user_id: int) -> str:
    """The room every connection of one user joins."""
    return f"user:{user_id}"


def emit(session: AsyncSession, event: Event, *, to: Iterable[str]) -> None:
    """Queue an event on this transaction; it is published after commit, dropped on rollback."""
    pending: list[Delivery] = session.info.setdefault(PENDING_KEY, [])
    pending.append(Delivery(event=event, rooms=tuple(to)))


def take_pending(session: AsyncSession) -> list[Delivery]:
    """Remove and return the events queued on a session."""
    pending: list[Delivery] = session.info.pop(PENDING_KEY, [])
    return pending
