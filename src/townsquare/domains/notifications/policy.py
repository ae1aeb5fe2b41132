"""Notification rules: types and their categories, default channels, grouping, quiet hours."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from townsquare.domains.notifications.schemas import NOTIFICATION_CATEGORIES


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """How one notification type behaves; later domains add theirs with `register_type`."""

    name: str
    category: str
    template: str  # "{actors}" / "{actor}" and "{target}" are filled in
    groupable: bool = False
    priority: str = "normal"


TYPES: dict[str, TypeSpec] = {}


def register_type(spec: TypeSpec) -> TypeSpec:
    """Make a type known; its category must be one users can switch."""
    if spec.category not in NOTIFICATION_CATEGORIES:
        raise ValueError(f"unknown notification category {spec.category!r}")
    TYPES[spec.name] = spec
    return spec


for _spec in (
    TypeSpec(
        "friend_request", "friend_requests", "{actor} sent you a friend request", False, "high"
    ),
    TypeSpec("friend_accepted", "friend_requests", "{actor} accepted your friend request"),
    TypeSpec("follow", "follows", "{actors} started following you", True),
    TypeSpec("new_post", "follows", "{actor} posted something new"),
    TypeSpec("like", "likes", "{actors} liked your {target}", True, "low"),
    TypeSpec("comment", "comments", "{actor} commented on your {target}"),
    TypeSpec("reply", "comments", "{actor} replied to your comment"),
    TypeSpec("share", "shares", "{actors} shared your {target}", True),
    TypeSpec("mention", "mentions", "{actor} mentioned you in a {target}", False, "high"),
    TypeSpec("message", "messages", "{actors} sent you a message", True, "high"),
    TypeSpec("announcement", "system", "{title}"),
):
    register_type(_spec)

# Without a stored preference: in-app and push for everything, email only where a missed
# notification costs the user something (a request waiting, a direct message, a mention).
EMAIL_BY_DEFAULT = frozenset({"friend_requests", "messages", "mentions", "moderation", "system"})
SAMPLE_ACTORS = 3
PRIORITIES = ("low", "normal", "high", "urgent")


def default_channels(category: str) -> tuple[bool, bool, bool]:
    """(in_app, push, email) for a category the user never configured."""
    return True, True, category in EMAIL_BY_DEFAULT


def actors_text(names: list[str], count: int) -> str:
    """ "Ana", "Ana and Ben", "Ana and 3 others" from the newest actors and the group size."""
    if not names:
        return "Someone" if count <= 1 else f"{count} people"
    if count <= 1:
        return names[0]
    if count == 2 and len(names) >= 2:
        return f"{names[0]} and {names[1]}"
    others = count - 1
    return f"{names[0]} and {others} other{'s' if others != 1 else ''}"


def render_title(spec: TypeSpec, *, names: list[str], count: int, target: str | None) -> str:
    """The headline of a notification in the recipient's list."""
    text = spec.template.replace("{actors}", actors_text(names, count))
    text = text.replace("{actor}", names[0] if names else "Someone")
    return text.replace("{target}", (target or "post").replace("_", " "))[:200]


def zone(name: str | None) -> ZoneInfo:
    """The user's timezone; an unknown name falls back to UTC rather than failing delivery."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def minute_of(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def quiet_until(
    now: datetime, *, start: int | None, end: int | None, timezone: str | None
) -> datetime | None:
    """When the user's quiet hours end, if `now` falls inside them; None otherwise.

    Computed on local wall-clock time, so quiet hours follow the user across DST changes.
    """
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone(timezone))
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    end_local = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if end_local <= local:
        end_local = (local + timedelta(days=1)).replace(
            hour=end // 60, minute=end % 60, second=0, microsecond=0
        )
    # re-attach the zone after the date moved, so the offset is that day's (DST)
    end_local = end_local.replace(tzinfo=zone(timezone))
    return end_local.astimezone(now.tzinfo)


def digest_due(
    now: datetime,
    *,
    digest: str,
    timezone: str | None,
    last_sent: datetime | None,
    hour: int,
) -> bool:
    """Daily digests go out in the local morning hour; weekly ones on Monday mornings."""
    if digest not in ("daily", "weekly"):
        return False
    local = now.astimezone(zone(timezone))
    if local.hour != hour or (digest == "weekly" and local.weekday() != 0):
        return False
    if last_sent is None:
        return True
    gap = timedelta(hours=20) if digest == "daily" else timedelta(days=6)
    return now - last_sent >= gap


def endpoint_hash(endpoint: str) -> str:
    """Push endpoints are long URLs; a digest keeps the unique index small."""
    return hashlib.sha256(endpoint.encode()).hexdigest()


def unsubscribe_token(secret: str, *, user_id: int, category: str) -> str:
    """A signed, login-free token that switches one category's email off for one user."""
    body = f"{user_id}.{category}"
    mac = hmac.new(secret.encode(), b"unsubscribe:" + body.encode(), hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(mac[:18]).rstrip(b"=").decode()
    return f"{body}.{sig}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str] | None:
    """(user id, category) of a genuine token; None for anything forged or malformed."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 19:
        return None
    user_id, category = int(parts[0]), parts[1]
    if category not in NOTIFICATION_CATEGORIES:
        return None
    expected = unsubscribe_token(secret, user_id=user_id, category=category)
    return (user_id, category) if hmac.compare_digest(expected, token) else None
