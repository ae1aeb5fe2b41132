"""Request, response and event models of the accounts domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from townsquare.core.events import Event
from townsquare.core.ids import Id

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{3,30}$")]
Password = Annotated[str, Field(min_length=1, max_length=256)]
Role = Literal["user", "moderator", "admin"]
Status = Literal["active", "suspended", "banned"]
Visibility = Literal["public", "friends", "private"]
MessagePermission = Literal["everyone", "friends", "nobody"]
Digest = Literal["daily", "weekly", "never"]


class Strict(BaseModel):
    """Request bodies refuse unknown fields (a typo is an error) and NUL characters."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value


class RegisterRequest(Strict):
    username: Username
    email: Annotated[EmailStr, Field(max_length=254)]
    password: Password


class LoginRequest(Strict):
    username: Annotated[str, Field(min_length=1, max_length=254)]
    password: Password


class RefreshRequest(Strict):
    refresh_token: Annotated[str, Field(min_length=1, max_length=128)]


class LogoutRequest(Strict):
    refresh_token: Annotated[str | None, Field(max_length=128)] = None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    session_id: Id


class PasswordChangeRequest(Strict):
    current_password: Password
    new_password: Password


class PrivacySettings(BaseModel):
    profile_visibility: Visibility = "public"
    show_email: bool = False
    show_location: bool = True
    show_activity: bool = True
    allow_friend_requests: bool = True
    allow_messages: MessagePermission = "everyone"
    show_online_status: bool = True


class PrivacySettingsUpdate(Strict):
    profile_visibility: Visibility | None = None
    show_email: bool | None = None
    show_location: bool | None = None
    show_activity: bool | None = None
    allow_friend_requests: bool | None = None
    allow_messages: MessagePermission | None = None
    show_online_status: bool | None = None


class NotificationCategories(Strict):
    """One switch per notification category; all on by default."""

    friend_requests: bool = True
    follows: bool = True
    likes: bool = True
    comments: bool = True
    mentions: bool = True
    shares: bool = True
    messages: bool = True
    achievements: bool = True
    challenges: bool = True
    mentorship: bool = True
    events: bool = True
    moderation: bool = True
    system: bool = True


class NotificationCategoriesUpdate(Strict):
    friend_requests: bool | None = None
    follows: bool | None = None
    likes: bool | None = None
    comments: bool | None = None
    mentions: bool | None = None
    shares: bool | None = None
    messages: bool | None = None
    achievements: bool | None = None
    challenges: bool | None = None
    mentorship: bool | None = None
    events: bool | None = None
    moderation: bool | None = None
    system: bool | None = None


class NotificationSettings(BaseModel):
    categories: NotificationCategories = Field(default_factory=NotificationCategories)
    digest: Digest = "weekly"
    timezone: str = "UTC"


class NotificationSettingsUpdate(Strict):
    categories: NotificationCategoriesUpdate | None = None
    digest: Digest | None = None
    timezone: Annotated[str | None, Field(max_length=64)] = None


SocialKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,30}$")]
SocialUrl = Annotated[AnyHttpUrl, Field()]
PlainText = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]


class ProfileUpdate(Strict):
    display_name: Annotated[PlainText | None, Field(max_length=60)] = None
    bio: Annotated[PlainText | None, Field(max_length=500)] = None
    location: Annotated[PlainText | None, Field(max_length=100)] = None
    social_links: Annotated[dict[SocialKey, SocialUrl] | None, Field(max_length=10)] = None
    privacy: PrivacySettingsUpdate | None = None
    notifications: NotificationSettingsUpdate | None = None


class ProfileStats(BaseModel):
    followers: int
    following: int
    posts: int
    achievements: int
    level: int


class Profile(BaseModel):
    """A profile as one viewer may see it: hidden fields are absent, not null."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    username: str
    display_name: str | None
    bio: str | None
    avatar_url: str | None
    avatar_thumbnail_url: str | None
    social_links: dict[str, str]
    joined_at: datetime
    role: Role
    stats: ProfileStats
    email: str | None = None
    location: str | None = None
    last_seen_at: datetime | None = None


class OwnProfile(Profile):
    """What a user sees of themselves: everything, with their settings."""

    email: str
    status: Status
    privacy: PrivacySettings
    notifications: NotificationSettings


class SessionInfo(BaseModel):
    id: Id
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    current: bool


class AdminUserUpdate(Strict):
    role: Role | None = None
    status: Status | None = None
    reason: Annotated[str | None, Field(max_length=500)] = None


class AuditEntry(BaseModel):
    id: Id
    action: str
    actor_id: Id | None
    target_user_id: Id | None
    ip_address: str | None
    detail: dict[str, object]
    created_at: datetime


class AccountStatusChanged(Event):
    """Told to a user's own connections so gateways end a suspended user's sockets at once."""

    type: Literal["account:status_changed"] = "account:status_changed"
    user_id: Id
    status: Status


class AccountSessionRevoked(Event):
    """Told to a user's own connections so the gateway ends that session's sockets at once."""

    type: Literal["account:session_revoked"] = "account:session_revoked"
    user_id: Id
    session_id: Id
