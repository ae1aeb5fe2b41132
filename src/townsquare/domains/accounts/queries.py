"""Reads of the accounts domain, with no side effects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from townsquare.core.clock import utcnow
from townsquare.core.errors import Forbidden, NotFound, Unauthorized
from townsquare.core.pagination import Page, decode_id_cursor, encode_cursor
from townsquare.core.security import AccessClaims, TokenError, decode_access_token
from townsquare.domains.accounts import policy
from townsquare.domains.accounts.models import AuditEvent, LoginSession, User, UserSettings
from townsquare.domains.accounts.policy import Principal, Relationship
from townsquare.domains.accounts.schemas import (
    AuditEntry,
    NotificationCategories,
    NotificationSettings,
    OwnProfile,
    PrivacySettings,
    Profile,
    ProfileStats,
    SessionInfo,
)
from townsquare.domains.social import queries as social_queries
from townsquare.infra.media import LocalMediaStore


def username_key(username: str) -> str:
    """Usernames are unique regardless of case."""
    return username.casefold()


def email_key(email: str) -> str:
    """Emails are unique regardless of case."""
    return email.strip().casefold()


_STANDING = (
    select(User.username, User.role, User.status, LoginSession.revoked_at)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(User.id == bindparam("user_id"), LoginSession.id == bindparam("session_id"))
)  # built once: this runs on every authenticated request and socket handshake


async def authenticate(
    session: AsyncSession | AsyncConnection, *, token: str, secret: str
) -> Principal:
    """Verify an access token and that its session and account are still in good standing."""
    claims = token_claims(token, secret=secret)
    params = {"user_id": claims.user_id, "session_id": claims.session_id}
    row = (await session.execute(_STANDING, params)).one_or_none()
    return principal_in_standing(claims, row)


def token_claims(token: str, *, secret: str) -> AccessClaims:
    """The claims of a valid, unexpired access token; 401 otherwise."""
    try:
        return decode_access_token(token, secret=secret)
    except TokenError as exc:
        raise Unauthorized(
            "The access token has expired" if exc.reason == "token_expired" else "Invalid token",
            code=exc.reason,
        ) from exc


def principal_in_standing(claims: AccessClaims, row: Any) -> Principal:
    """The caller from their token's `_STANDING` row (split out so hot paths read it raw)."""
    if row is None or row[3] is not None:  # no such session, or revoked
        raise Unauthorized("This session has ended; sign in again", code="session_revoked")
    username, role, status = row[0], row[1], row[2]
    if status != "active":
        raise Forbidden(f"This account is {status}", code=f"account_{status}")
    return Principal(
        user_id=claims.user_id, session_id=claims.session_id, role=role, username=username
    )


async def get_user(session: AsyncSession, *, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def names(
    session: AsyncSession, *, user_ids: Iterable[int]
) -> dict[int, tuple[str, str | None]]:
    """(username, display name) of many users, in one query."""
    rows = await session.execute(
        select(User.id, User.username, User.display_name).where(User.id.in_(set(user_ids)))
    )
    return {uid: (username, display_name) for uid, username, display_name in rows}


async def active_user_ids(session: AsyncSession, *, after: int, limit: int) -> list[int]:
    """Ids of active users above an id, in id order: a batch of an all-members fan-out."""
    query = (
        select(User.id)
        .where(User.id > after, User.status == "active")
        .order_by(User.id)
        .limit(limit)
    )
    return [int(i) for i in (await session.execute(query)).scalars()]


async def usernames_in_standing(
    session: AsyncSession, *, usernames: Iterable[str]
) -> list[tuple[int, str]]:
    """(id, username) of the users not banned among these names (any case): @mentions."""
    keys = {username_key(n) for n in usernames}
    rows = await session.execute(
        select(User.id, User.username).where(User.username_key.in_(keys), User.status != "banned")
    )
    return [(uid, username) for uid, username in rows]


async def get_user_by_username(session: AsyncSession, *, username: str) -> User | None:
    return (
        await session.execute(select(User).where(User.username_key == username_key(username)))
    ).scalar_one_or_none()


async def get_user_by_login(session: AsyncSession, *, login: str) -> User | None:
    """Find a user by username, or by email when the login contains an @."""
    column, key = (
        (User.email_key, email_key(login))
        if "@" in login
        else (User.username_key, username_key(login))
    )
    return (await session.execute(select(User).where(column == key))).scalar_one_or_none()


async def get_settings(session: AsyncSession, *, user_id: int) -> UserSettings:
    """A user's settings row; every user has one from registration on."""
    settings = await session.get(UserSettings, user_id)
    if settings is None:
        raise NotFound("No such user")
    return settings


async def shows_online_status(session: AsyncSession, *, user_id: int) -> bool:
    """Whether the user lets others see them online (yes when they have no settings row)."""
    value = await session.scalar(
        select(UserSettings.show_online_status).where(UserSettings.user_id == user_id)
    )
    return bool(value) if value is not None else True


async def relationship(
    session: AsyncSession, *, viewer_id: int | None, owner_id: int
) -> Relationship:
    """How the viewer stands to the owner: self, friends, or hidden by a block either way."""
    if viewer_id is None:
        return Relationship()
    if viewer_id == owner_id:
        return Relationship(is_self=True)
    is_friend, is_blocked = await social_queries.friendship_and_block(
        session, a=viewer_id, b=owner_id
    )
    return Relationship(is_friend=is_friend, is_blocked=is_blocked)


def _stats(user: User) -> ProfileStats:
    return ProfileStats(
        followers=user.followers_count,
        following=user.following_count,
        posts=user.posts_count,
        achievements=user.achievements_count,
        level=user.level,
    )


def _privacy(settings: UserSettings) -> PrivacySettings:
    return PrivacySettings(
        profile_visibility=settings.profile_visibility,
        show_email=settings.show_email,
        show_location=settings.show_location,
        show_activity=settings.show_activity,
        allow_friend_requests=settings.allow_friend_requests,
        allow_messages=settings.allow_messages,
        show_online_status=settings.show_online_status,
    )


def notification_settings(settings: UserSettings) -> NotificationSettings:
    """The stored switches over the defaults, so categories added later start switched on."""
    return NotificationSettings(
        categories=NotificationCategories(**(settings.notification_categories or {})),
        digest=settings.digest,
        timezone=settings.timezone,
    )


def own_profile(user: User, settings: UserSettings, media: LocalMediaStore) -> OwnProfile:
    """Everything about the caller's own account."""
    return OwnProfile(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        avatar_url=media.url(user.avatar_key),
        avatar_thumbnail_url=media.url(user.avatar_thumb_key),
        social_links=dict(user.social_links or {}),
        joined_at=user.created_at,
        role=user.role,
        stats=_stats(user),
        email=user.email,
        location=user.location,
        last_seen_at=user.last_seen_at,
        status=user.status,
        privacy=_privacy(settings),
        notifications=notification_settings(settings),
    )


_USER_WITH_SETTINGS = (
    select(User, UserSettings)
    .join(UserSettings, UserSettings.user_id == User.id)
    .where(User.username_key == bindparam("key"))
)


async def access_profile(
    session: AsyncSession, *, viewer: Principal | None, username: str, media: LocalMediaStore
) -> Profile:
    """A profile as the viewer may see it; 404 for what they may not, never a revealing 403."""
    found = (
        await session.execute(_USER_WITH_SETTINGS, {"key": username_key(username)})
    ).one_or_none()
    if found is None:
        raise NotFound("No such user")
    user, settings = found
    rel = await relationship(
        session, viewer_id=viewer.user_id if viewer else None, owner_id=user.id
    )
    if not policy.can_view_profile(viewer, user, settings, rel):
        raise NotFound("No such user")
    shown = policy.profile_fields(viewer, settings, rel)
    profile = Profile(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        avatar_url=media.url(user.avatar_key),
        avatar_thumbnail_url=media.url(user.avatar_thumb_key),
        social_links=dict(user.social_links or {}),
        joined_at=user.created_at,
        role=user.role,
        stats=_stats(user),
    )
    if shown.email:
        profile.email = user.email
    if shown.location:
        profile.location = user.location
    if shown.activity:
        profile.last_seen_at = user.last_seen_at
    return profile


async def list_sessions(session: AsyncSession, *, principal: Principal) -> list[SessionInfo]:
    """The caller's live sessions, newest first (a user has few, so no paging)."""
    rows = (
        await session.execute(
            select(LoginSession)
            .where(
                LoginSession.user_id == principal.user_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > utcnow(),
            )
            .order_by(LoginSession.created_at.desc())
        )
    ).scalars()
    return [
        SessionInfo(
            id=row.id,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            ip_address=row.ip_address,
            current=row.id == principal.session_id,
        )
        for row in rows
    ]


async def list_audit_events(
    session: AsyncSession,
    *,
    cursor: str | None,
    limit: int,
    user_id: int | None = None,
    action: str | None = None,
) -> Page[AuditEntry]:
    """Audit entries newest first, optionally about one user or of one action."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if cursor:
        query = query.where(AuditEvent.id < decode_id_cursor(cursor))
    if user_id is not None:
        query = query.where(AuditEvent.target_user_id == user_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        AuditEntry(
            id=row.id,
            action=row.action,
            actor_id=row.actor_id,
            target_user_id=row.target_user_id,
            ip_address=row.ip_address,
            detail=dict(row.detail or {}),
            created_at=row.created_at,
        )
        for row in rows
    ]
    return Page(items=items, next_cursor=encode_cursor({"id": rows[-1].id}) if more else None)


@dataclass(frozen=True, slots=True)
class Contact:
    """How to reach a user outside the app and what they asked to be sent there."""

    user_id: int
    username: str
    display_name: str | None
    email: str
    status: str
    timezone: str
    digest: str
    notification_categories: dict[str, Any]


_CONTACT_CHUNK = 900  # ids per IN list: under SQLite's bound-parameter limit with room to spare


async def contacts(session: AsyncSession, *, user_ids: Sequence[int]) -> dict[int, Contact]:
    """Contact details and notification settings of many users (those with settings), by id."""
    out: dict[int, Contact] = {}
    for start in range(0, len(user_ids), _CONTACT_CHUNK):
        rows = await session.execute(
            select(
                User.id,
                User.username,
                User.display_name,
                User.email,
                User.status,
                UserSettings.timezone,
                UserSettings.digest,
                UserSettings.notification_categories,
            )
            .join(UserSettings, UserSettings.user_id == User.id)
            .where(User.id.in_(user_ids[start : start + _CONTACT_CHUNK]))
        )
        for r in rows:
            out[r[0]] = Contact(*r)
    return out
