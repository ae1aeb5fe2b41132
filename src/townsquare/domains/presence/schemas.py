"""Request, response and event models of presence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from townsquare.core.events import Event
from townsquare.core.ids import Id
from townsquare.domains.presence.store import PresenceInfo, Status

MAX_ACTIVITY = 140
MAX_CLIENT_ID = 128


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


class PresenceChanged(Event):
    """Told to the user's own devices and to the audience online: status or activity changed."""

    type: Literal["presence:friend_activity"] = "presence:friend_activity"
    user_id: Id
    status: Status
    activity: str | None
    metadata: dict[str, Any] | None
    last_active_at: datetime | None
    last_seen_at: datetime | None

    @field_serializer("last_active_at", "last_seen_at")
    def _iso(self, value: datetime | None) -> str | None:
        """Python's `isoformat` (`+00:00`), the form presence has always sent."""
        return None if value is None else value.isoformat()

    @classmethod
    def of(cls, info: PresenceInfo) -> PresenceChanged:
        """The event for a user's presence as it is now."""
        return cls(
            user_id=info.user_id,
            status=info.status,
            activity=info.activity,
            metadata=info.metadata,
            last_active_at=_at(info.last_active_ms),
            last_seen_at=_at(info.last_seen_ms),
        )


def to_wire(info: PresenceInfo) -> dict[str, Any]:
    """A user's presence as JSON: the event's payload, also the REST and ack reply body."""
    return PresenceChanged.of(info).payload()


class PresenceOut(BaseModel):
    """A user's presence as the caller may see it."""

    user_id: str
    status: str
    activity: str | None
    metadata: dict[str, Any] | None
    last_active_at: str | None
    last_seen_at: str | None


class ActivityIn(BaseModel):
    """What the caller is doing now; also marks them active (idle turns online)."""

    model_config = ConfigDict(extra="forbid")

    activity: str | None = Field(default=None, max_length=MAX_ACTIVITY)
    metadata: dict[str, Any] | None = None


class PresenceActivity(BaseModel):
    """`presence:activity` payload: what the user is doing now (both fields optional)."""

    activity: str | None = Field(default=None, max_length=MAX_ACTIVITY)
    metadata: dict[str, Any] | None = None
    client_id: str | None = Field(default=None, max_length=MAX_CLIENT_ID)
