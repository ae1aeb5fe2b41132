"""Reads of the notifications domain, with no side effects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.clock import utcnow
from townsquare.core.errors import ValidationFailed
from townsquare.core.pagination import Page, decode_cursor, encode_cursor
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts import sql as accounts_sql
from townsquare.domains.notifications import policy
from townsquare.domains.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationSchedule,
    PushSubscription,
)
from townsquare.domains.notifications.schemas import (
    ActorView,
    ChannelPreference,
    NotificationView,
    Preferences,
    PushSubscriptionView,
    QuietHours,
)
from townsquare.domains.social import queries as social_queries

CHUNK = 900  # ids per IN list: under SQLite's bound-parameter limit with room to spare


@dataclass(frozen=True, slots=True)
class Channels:
    """Where one user wants one category delivered, as stored right now."""

    in_app: bool
    push: bool
    email: bool

    @property
    def any(self) -> bool:
        return self.in_app or self.push or self.email


def channels_from(category: str, categories: dict[str, Any] | None, pref: Any) -> Channels:
    """Combine the account's master switch for the category with the per-channel row."""
    if categories and categories.get(category) is False:
        return Channels(False, False, False)
    if pref is None or pref[0] is None:
        return Channels(*policy.default_channels(category))
    return Channels(bool(pref[0]), bool(pref[1]), bool(pref[2]))


def _channel_query(category: str) -> Any:
    user_id = accounts_sql.settings_user_id()
    return select(
        user_id,
        accounts_sql.notification_categories(),
        NotificationPreference.in_app,
        NotificationPreference.push,
        NotificationPreference.email,
    ).outerjoin(
        NotificationPreference,
        and_(
            NotificationPreference.user_id == user_id,
            NotificationPreference.category == category,
        ),
    )


async def channels_for(session: AsyncSession, *, user_id: int, category: str) -> Channels | None:
    """One user's channels for a category; None when the user does not exist."""
    row = (
        await session.execute(
            _channel_query(category).where(accounts_sql.settings_user_id() == user_id)
        )
    ).first()
    if row is None:
        return None
    return channels_from(category, row[1], (row[2], row[3], row[4]))


async def channels_for_many(
    session: AsyncSession, *, user_ids: Sequence[int], category: str
) -> dict[int, Channels]:
    """Channels of many users for one category, a few queries for thousands of users."""
    out: dict[int, Channels] = {}
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start : start + CHUNK]
        rows = await session.execute(
            _channel_query(category).where(accounts_sql.settings_user_id().in_(chunk))
        )
        for row in rows:
            out[row[0]] = channels_from(category, row[1], (row[2], row[3], row[4]))
    return out


async def muted_by(session: AsyncSession, *, actor_id: int) -> set[int]:
    """Users who muted the actor: the actor's doings never notify them."""
    return await social_queries.muter_ids(session, muted_id=actor_id)


async def actors(session: AsyncSession, *, user_ids: Iterable[int]) -> dict[int, ActorView]:
    """Display data of the users who caused notifications, in one query."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    names = await accounts_queries.names(session, user_ids=ids)
    return {
        uid: ActorView(id=uid, username=username, display_name=display_name)
        for uid, (username, display_name) in names.items()
    }


def display_name(actor: ActorView) -> str:
    return actor.display_name or actor.username


def sample_ids(row: Notification) -> list[int]:
    ids = (row.sample_actors or {}).get("ids") or []
    return [int(i) for i in ids]


def view(row: Notification, people: dict[int, ActorView]) -> NotificationView:
    """The wire shape of a stored notification."""
    sample = [people[i] for i in sample_ids(row) if i in people]
    actor = people.get(row.actor_id) if row.actor_id is not None else None
    return NotificationView(
        id=row.id,
        type=row.type,
        category=row.category,
        priority=row.priority,
        title=row.title,
        message=row.message,
        data=dict(row.data or {}),
        actor=actor,
        actors=sample,
        count=row.group_count,
        target_type=row.target_type,
        target_id=row.target_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        read_at=row.read_at,
        expires_at=row.expires_at,
        read=row.read_at is not None,
    )


async def views(session: AsyncSession, rows: Sequence[Notification]) -> list[NotificationView]:
    """Wire shapes of many notifications with one query for all their actors."""
    wanted: set[int] = set()
    for row in rows:
        wanted.update(sample_ids(row))
        if row.actor_id is not None:
            wanted.add(row.actor_id)
    people = await actors(session, user_ids=wanted)
    return [view(row, people) for row in rows]


def visible(user_id: int, now: datetime) -> Any:
    """What belongs in a user's list: theirs, in-app, not expired."""
    return and_(
        Notification.recipient_id == user_id,
        Notification.in_app.is_(True),
        or_(Notification.expires_at.is_(None), Notification.expires_at > now),
    )


def _decode(cursor: str) -> tuple[datetime, int]:
    raw = decode_cursor(cursor, keys=("t", "id"))
    try:
        moment = datetime.fromisoformat(str(raw["t"]))
        ident = raw["id"]
        if not isinstance(ident, int) or isinstance(ident, bool) or moment.tzinfo is None:
            raise ValueError("bad cursor")
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("Malformed cursor", code="invalid_cursor") from exc
    return moment, ident


async def list_notifications(
    session: AsyncSession, *, user_id: int, cursor: str | None, limit: int, unread_only: bool
) -> Page[NotificationView]:
    """Newest activity first (a group moves up when it grows); keyset-paged."""
    now = utcnow()
    query = (
        select(Notification)
        .where(visible(user_id, now))
        .order_by(Notification.updated_at.desc(), Notification.id.desc())
        .limit(limit + 1)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if cursor:
        moment, ident = _decode(cursor)
        query = query.where(
            or_(
                Notification.updated_at < moment,
                and_(Notification.updated_at == moment, Notification.id < ident),
            )
        )
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor({"t": rows[-1].updated_at.isoformat(), "id": rows[-1].id}) if more else None
    )
    return Page(items=await views(session, rows), next_cursor=next_cursor)


async def told(
    session: AsyncSession,
    *,
    recipient_ids: Sequence[int],
    type: str,
    target_type: str,
    target_id: int,
) -> set[int]:
    """Recipients among these who have this notification already: a retried fan-out skips them."""
    query = select(Notification.recipient_id).where(
        Notification.recipient_id.in_(recipient_ids),
        Notification.type == type,
        Notification.target_type == target_type,
        Notification.target_id == target_id,
    )
    return set((await session.execute(query)).scalars())


async def unread_count(session: AsyncSession, *, user_id: int) -> int:
    query = select(func.count()).where(visible(user_id, utcnow()), Notification.read_at.is_(None))
    return int((await session.execute(query)).scalar_one())


async def get_schedule(session: AsyncSession, *, user_id: int) -> NotificationSchedule | None:
    return await session.get(NotificationSchedule, user_id)


async def get_preferences(session: AsyncSession, *, user_id: int) -> Preferences:
    """Every category's channels (stored or default), quiet hours, digest and timezone."""
    settings = await accounts_queries.get_settings(session, user_id=user_id)
    account = accounts_queries.notification_settings(settings)
    enabled = account.categories.model_dump()
    stored = {
        row.category: row
        for row in (
            await session.execute(
                select(NotificationPreference).where(NotificationPreference.user_id == user_id)
            )
        ).scalars()
    }
    categories: dict[str, ChannelPreference] = {}
    for category in enabled:
        row = stored.get(category)
        in_app, push, email = (
            (row.in_app, row.push, row.email) if row else policy.default_channels(category)
        )
        categories[category] = ChannelPreference(in_app=in_app, push=push, email=email)
    schedule = await get_schedule(session, user_id=user_id)
    quiet = None
    if (
        schedule
        and schedule.quiet_start_minute is not None
        and schedule.quiet_end_minute is not None
    ):
        quiet = QuietHours(
            start=policy.hhmm(schedule.quiet_start_minute),
            end=policy.hhmm(schedule.quiet_end_minute),
        )
    return Preferences(
        categories=categories,
        category_enabled=enabled,
        quiet_hours=quiet,
        digest=account.digest,
        timezone=account.timezone,
    )


async def list_push_subscriptions(
    session: AsyncSession, *, user_id: int
) -> list[PushSubscriptionView]:
    rows = (
        await session.execute(
            select(PushSubscription)
            .where(PushSubscription.user_id == user_id)
            .order_by(PushSubscription.id.desc())
        )
    ).scalars()
    return [
        PushSubscriptionView(
            id=r.id,
            endpoint=r.endpoint,
            user_agent=r.user_agent,
            created_at=r.created_at,
            last_success_at=r.last_success_at,
        )
        for r in rows
    ]
