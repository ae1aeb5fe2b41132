"""Request, response and event models of the notifications domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
)

from townsquare.core.events import Event
from townsquare.core.ids import Id
from townsquare.domains.accounts.schemas import Digest, Strict

Priority = Literal["low", "normal", "high", "urgent"]
Channel = Literal["in_app", "push", "email"]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Category = Literal[
    "friend_requests",
    "follows",
    "likes",
    "comments",
    "mentions",
    "shares",
    "messages",
    "achievements",
    "challenges",
    "mentorship",
    "events",
    "moderation",
    "system",
]
NOTIFICATION_CATEGORIES: tuple[str, ...] = get_args(Category)  # the same, as values at run time


class ActorView(BaseModel):
    id: Id
    username: str
    display_name: str | None


class NotificationView(BaseModel):
    """A notification as its recipient sees it; `count` > 1 for a group."""

    id: Id
    type: str
    category: str
    priority: Priority
    title: str
    message: str
    data: dict[str, Any]
    actor: ActorView | None
    actors: list[ActorView]
    count: int
    target_type: str | None
    target_id: Id | None
    created_at: datetime
    updated_at: datetime
    read_at: datetime | None
    expires_at: datetime | None
    read: bool


class UnreadCount(BaseModel):
    unread_count: int


class MarkReadRequest(Strict):
    """The ids to mark read (`notificationIds`, as the seed's clients send it)."""

    notification_ids: Annotated[list[Id], Field(min_length=1, max_length=200)] = Field(
        validation_alias=AliasChoices("notificationIds", "notification_ids")
    )


class MarkReadResult(BaseModel):
    marked: int
    unread_count: int


class ChannelPreference(BaseModel):
    in_app: bool
    push: bool
    email: bool


class ChannelPreferenceUpdate(Strict):
    in_app: bool | None = None
    push: bool | None = None
    email: bool | None = None


class QuietHours(BaseModel):
    """Local wall-clock times (the user's timezone); `start` after `end` spans midnight."""

    start: HHMM
    end: HHMM


class QuietHoursUpdate(Strict):
    start: HHMM
    end: HHMM

    @field_validator("end")
    @classmethod
    def _not_empty(cls, end: str, info: Any) -> str:
        if info.data.get("start") == end:
            raise ValueError("quiet hours must not start and end at the same time")
        return end


class Preferences(BaseModel):
    """Per-category channels, quiet hours, and (read-only here) digest and timezone."""

    categories: dict[str, ChannelPreference]
    category_enabled: dict[str, bool]
    quiet_hours: QuietHours | None
    digest: Digest
    timezone: str


class PreferencesUpdate(Strict):
    """Change some categories' channels and/or quiet hours (`null` turns quiet hours off)."""

    categories: Annotated[dict[Category, ChannelPreferenceUpdate] | None, Field(max_length=13)] = (
        None
    )
    quiet_hours: QuietHoursUpdate | None = None


class PushKeys(Strict):
    p256dh: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-=]{80,100}$")]
    auth: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-=]{16,32}$")]


class PushSubscriptionCreate(Strict):
    """A browser PushSubscription as `subscription.toJSON()` gives it."""

    endpoint: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]
    keys: PushKeys
    expiration_time: Annotated[float | None, Field(ge=0)] = Field(
        default=None, validation_alias=AliasChoices("expirationTime", "expiration_time")
    )


class PushSubscriptionView(BaseModel):
    id: Id
    endpoint: str
    user_agent: str | None
    created_at: datetime
    last_success_at: datetime | None


class PushPublicKey(BaseModel):
    """The VAPID public key for `pushManager.subscribe({applicationServerKey})`."""

    public_key: str


class AnnouncementCreate(Strict):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    message: Annotated[str, Field(max_length=1000)] = ""
    priority: Priority = "normal"
    expires_in_hours: Annotated[int | None, Field(ge=1, le=24 * 365)] = None
    data: Annotated[
        dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=500)]] | None,
        Field(max_length=20),
    ] = None


class AnnouncementQueued(BaseModel):
    job_id: Id


class NotificationNew(Event):
    """A new entry in the recipient's list, on every one of their devices."""

    type: Literal["notification:new"] = "notification:new"
    notification: NotificationView
    # fan-out builds one payload and copies it per recipient instead of serialising 10,000 models
    _wire: dict[str, Any] | None = PrivateAttr(default=None)

    def payload(self) -> dict[str, Any]:
        return self._wire if self._wire is not None else super().payload()

    @classmethod
    def prebuilt(cls, notification: NotificationView, wire: dict[str, Any]) -> NotificationNew:
        """An event whose payload is already serialised (trusted: built from `notification`)."""
        event = cls.model_construct(notification=notification)
        event._wire = wire
        return event


class NotificationUpdated(Event):
    """A group changed in place (one more like): replace the entry with the same id."""

    type: Literal["notification:updated"] = "notification:updated"
    notification: NotificationView


class NotificationsRead(Event):
    """Some (or all) notifications were read on one device: every device updates its badge."""

    type: Literal["notification:read"] = "notification:read"
    notification_ids: list[Id]
    all: bool
    unread_count: int
