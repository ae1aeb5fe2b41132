"""Every write of the notifications domain; the only place it publishes events.

`notify` is the entry point other domains call inside their own transaction, so a notification
commits or rolls back with the action that caused it:

    await notifications.actions.notify(
        session, recipient_id=post.author_id, type="like", actor_id=me,
        target=Target("post", post.id),
    )
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core import ids as id_layout
from townsquare.core.clock import utcnow
from townsquare.core.db import rowcount
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.events import emit, user_room
from townsquare.core.ids import new_id
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.notifications import policy, queries
from townsquare.domains.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationSchedule,
    PushSubscription,
)
from townsquare.domains.notifications.schemas import (
    NotificationNew,
    NotificationsRead,
    NotificationUpdated,
    PreferencesUpdate,
    PushSubscriptionCreate,
)
from townsquare.domains.social import queries as social_queries
from townsquare.infra import jobs

DELIVER_JOB = "notifications.deliver"
DELIVERY_BATCH = 500
GROUP_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Target:
    """What a notification is about (`post` 123, `comment` 456), for grouping and links."""

    kind: str
    id: int


def _spec(type_: str) -> policy.TypeSpec:
    spec = policy.TYPES.get(type_)
    if spec is None:
        raise ValueError(f"unknown notification type {type_!r}")
    return spec


async def _silenced(session: AsyncSession, *, recipient_id: int, actor_id: int) -> bool:
    """Blocks either way and the recipient's mutes keep the actor from notifying them."""
    if await social_queries.is_blocked_either_way(session, a=recipient_id, b=actor_id):
        return True
    return actor_id in await social_queries.muted_ids(session, viewer_id=recipient_id)


async def notify(
    session: AsyncSession,
    *,
    recipient_id: int,
    type: str,
    actor_id: int | None = None,
    target: Target | None = None,
    data: dict[str, Any] | None = None,
    priority: str | None = None,
    title: str | None = None,
    message: str = "",
    expires_at: datetime | None = None,
    group_window: timedelta = GROUP_WINDOW,
) -> Notification | None:
    """Notify one user inside the caller's transaction; None when nothing is due to them.

    Nothing is stored for oneself, for a category the user switched off, or from a user the
    recipient muted or who is blocked either way. Groupable types (likes, shares, follows)
    fold into an unread entry about the same target from the last `group_window`, which is
    updated in place (`notification:updated`). Push and email are decided later, by the
    delivery job, against the preferences of that moment.
    """
    spec = _spec(type)
    if actor_id is not None and actor_id == recipient_id:
        return None
    channels = await queries.channels_for(session, user_id=recipient_id, category=spec.category)
    if channels is None or not channels.any:
        return None
    if actor_id is not None and await _silenced(
        session, recipient_id=recipient_id, actor_id=actor_id
    ):
        return None
    now = utcnow()
    if spec.groupable and target is not None and group_window.total_seconds() > 0:
        grouped = await _fold_into_group(
            session,
            spec=spec,
            recipient_id=recipient_id,
            actor_id=actor_id,
            target=target,
            now=now,
            since=now - group_window,
        )
        if grouped is not None:
            return grouped
    people = await queries.actors(session, user_ids=[actor_id] if actor_id else [])
    names = [queries.display_name(people[actor_id])] if actor_id in people else []
    row = Notification(
        id=new_id(),
        recipient_id=recipient_id,
        type=spec.name,
        category=spec.category,
        priority=_priority(priority, spec),
        title=(title or policy.render_title(spec, names=names, count=1, target=_kind(target)))[
            :200
        ],
        message=message[:1000],
        data=dict(data or {}),
        actor_id=actor_id,
        target_type=target.kind if target else None,
        target_id=target.id if target else None,
        group_key=_group_key(spec, target) if spec.groupable else None,
        group_count=1,
        sample_actors={"ids": [actor_id] if actor_id else []},
        in_app=channels.in_app,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    if row.in_app:
        emit(
            session,
            NotificationNew(notification=queries.view(row, people)),
            to=[user_room(recipient_id)],
        )
    if channels.push or channels.email:
        jobs.defer(session, DELIVER_JOB, {"ids": [row.id]})
    return row


def _kind(target: Target | None) -> str | None:
    return target.kind if target else None


def _priority(priority: str | None, spec: policy.TypeSpec) -> str:
    value = priority or spec.priority
    if value not in policy.PRIORITIES:
        raise ValueError(f"unknown priority {value!r}")
    return value


def _group_key(spec: policy.TypeSpec, target: Target | None) -> str | None:
    return None if target is None else f"{spec.name}:{target.kind}:{target.id}"[:120]


async def _fold_into_group(
    session: AsyncSession,
    *,
    spec: policy.TypeSpec,
    recipient_id: int,
    actor_id: int | None,
    target: Target,
    now: datetime,
    since: datetime,
) -> Notification | None:
    """Add the actor to an open group about the same target; None when there is none."""
    query = (
        select(Notification)
        .where(
            Notification.recipient_id == recipient_id,
            Notification.group_key == _group_key(spec, target),
            Notification.read_at.is_(None),
            Notification.updated_at >= since,
        )
        .order_by(Notification.id.desc())
        .limit(1)
        .with_for_update()
    )
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        return None
    sample = queries.sample_ids(row)
    if actor_id is not None and actor_id in sample:
        return row  # the same person again (like, unlike, like): nothing new to tell
    if actor_id is not None:
        sample = [actor_id, *sample][: policy.SAMPLE_ACTORS]
    row.group_count += 1
    row.sample_actors = {"ids": sample}
    row.actor_id = actor_id
    row.updated_at = now
    people = await queries.actors(session, user_ids=sample)
    names = [queries.display_name(people[i]) for i in sample if i in people]
    row.title = policy.render_title(spec, names=names, count=row.group_count, target=target.kind)
    await session.flush()
    if row.in_app:
        emit(
            session,
            NotificationUpdated(notification=queries.view(row, people)),
            to=[user_room(recipient_id)],
        )
    return row


async def notify_many(
    session: AsyncSession,
    *,
    recipient_ids: Iterable[int],
    type: str,
    actor_id: int | None = None,
    target: Target | None = None,
    data: dict[str, Any] | None = None,
    priority: str | None = None,
    title: str | None = None,
    message: str = "",
    expires_at: datetime | None = None,
) -> int:
    """Fan one event out to many users (a post to followers, an announcement); returns how many.

    The same rules as `notify` (self, switches, blocks, mutes), checked in bulk; no grouping.
    """
    spec = _spec(type)
    ids = sorted({int(r) for r in recipient_ids if r != actor_id})
    if not ids:
        return 0
    channels = await queries.channels_for_many(session, user_ids=ids, category=spec.category)
    excluded: set[int] = set()
    if actor_id is not None:
        excluded = await social_queries.hidden_ids(session, viewer_id=actor_id)
        excluded |= await queries.muted_by(session, actor_id=actor_id)
    people = await queries.actors(session, user_ids=[actor_id] if actor_id else [])
    names = [queries.display_name(people[actor_id])] if actor_id in people else []
    now = utcnow()
    common: dict[str, Any] = {
        "type": spec.name,
        "category": spec.category,
        "priority": _priority(priority, spec),
        "title": (title or policy.render_title(spec, names=names, count=1, target=_kind(target)))[
            :200
        ],
        "message": message[:1000],
        "data": dict(data or {}),
        "actor_id": actor_id,
        "target_type": target.kind if target else None,
        "target_id": target.id if target else None,
        "group_key": None,
        "group_count": 1,
        "sample_actors": {"ids": [actor_id] if actor_id else []},
        "created_at": now,
        "updated_at": now,
        "read_at": None,
        "expires_at": expires_at,
        "push_sent_at": None,
        "email_sent_at": None,
    }
    # only the columns that carry a value: each bound parameter costs, times 10,000 rows
    stored = {k: v for k, v in common.items() if v is not None}
    rows: list[dict[str, Any]] = []
    to_deliver: list[int] = []
    for uid in ids:
        wanted = channels.get(uid)
        if wanted is None or not wanted.any or uid in excluded:
            continue
        row = {**stored, "id": new_id(), "recipient_id": uid, "in_app": wanted.in_app}
        rows.append(row)
        if wanted.push or wanted.email:
            to_deliver.append(row["id"])
    if not rows:
        return 0
    table = cast(Table, Notification.__table__)
    for start in range(0, len(rows), 1000):
        await session.execute(table.insert(), rows[start : start + 1000])
    template = Notification(**{**common, "id": 0, "recipient_id": 0, "in_app": True})
    base = queries.view(template, people)
    wire = base.model_dump(mode="json")
    for row in rows:
        if row["in_app"]:
            emit(
                session,
                NotificationNew.prebuilt(base, {"notification": {**wire, "id": str(row["id"])}}),
                to=[user_room(row["recipient_id"])],
            )
    for start in range(0, len(to_deliver), DELIVERY_BATCH):
        jobs.defer(session, DELIVER_JOB, {"ids": to_deliver[start : start + DELIVERY_BATCH]})
    return len(rows)


# reading -----------------------------------------------------------------------------------------


async def do_mark_read(
    session: AsyncSession, *, user_id: int, notification_ids: list[int]
) -> tuple[int, int]:
    """Mark some of the user's notifications read; tell all their devices the new count.

    Ids that are not theirs (or already read) are ignored rather than revealed.
    """
    now = utcnow()
    ids = list(dict.fromkeys(notification_ids))
    result = await session.execute(
        update(Notification)
        .where(
            Notification.recipient_id == user_id,
            Notification.id.in_(ids),
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
        .returning(Notification.id)
    )
    marked = [int(i) for i in result.scalars()]
    count = await queries.unread_count(session, user_id=user_id)
    if marked:
        emit(
            session,
            NotificationsRead(notification_ids=marked, all=False, unread_count=count),
            to=[user_room(user_id)],
        )
    return len(marked), count


async def do_mark_all_read(session: AsyncSession, *, user_id: int) -> tuple[int, int]:
    """Mark everything read; every device of the user gets the zero badge."""
    result = await session.execute(
        update(Notification)
        .where(Notification.recipient_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    marked = rowcount(result)
    count = await queries.unread_count(session, user_id=user_id)
    if marked:
        emit(
            session,
            NotificationsRead(notification_ids=[], all=True, unread_count=count),
            to=[user_room(user_id)],
        )
    return marked, count


# preferences -------------------------------------------------------------------------------------


async def do_update_preferences(
    session: AsyncSession, *, user_id: int, changes: PreferencesUpdate
) -> None:
    """Store per-category channel choices and quiet hours; omitted fields stay as they were."""
    for category, update_ in (changes.categories or {}).items():
        row = await session.get(NotificationPreference, (user_id, category))
        if row is None:
            in_app, push, email = policy.default_channels(category)
            row = NotificationPreference(
                user_id=user_id, category=category, in_app=in_app, push=push, email=email
            )
            session.add(row)
        for channel in ("in_app", "push", "email"):
            value = getattr(update_, channel)
            if value is not None:
                setattr(row, channel, value)
    if "quiet_hours" in changes.model_fields_set:
        schedule = await _schedule(session, user_id=user_id)
        quiet = changes.quiet_hours
        schedule.quiet_start_minute = policy.minute_of(quiet.start) if quiet else None
        schedule.quiet_end_minute = policy.minute_of(quiet.end) if quiet else None
    await session.flush()


async def _schedule(session: AsyncSession, *, user_id: int) -> NotificationSchedule:
    schedule = await session.get(NotificationSchedule, user_id)
    if schedule is None:
        schedule = NotificationSchedule(user_id=user_id)
        session.add(schedule)
    return schedule


async def do_set_channel(
    session: AsyncSession, *, user_id: int, category: str, channel: str, on: bool
) -> None:
    """Switch one channel of one category (the email unsubscribe link uses it)."""
    if channel not in ("in_app", "push", "email"):
        raise ValidationFailed("Unknown channel")
    if await accounts_queries.get_user(session, user_id=user_id) is None:
        raise NotFound("No such user")
    row = await session.get(NotificationPreference, (user_id, category))
    if row is None:
        in_app, push, email = policy.default_channels(category)
        row = NotificationPreference(
            user_id=user_id, category=category, in_app=in_app, push=push, email=email
        )
        session.add(row)
    setattr(row, channel, on)
    await session.flush()


async def do_mark_digest_sent(session: AsyncSession, *, user_id: int, at: datetime) -> None:
    schedule = await _schedule(session, user_id=user_id)
    schedule.last_digest_at = at
    await session.flush()


# Web Push subscriptions --------------------------------------------------------------------------


async def do_add_push_subscription(
    session: AsyncSession, *, user_id: int, body: PushSubscriptionCreate, user_agent: str | None
) -> PushSubscription:
    """Keep a browser's subscription; the same endpoint again replaces the old keys and owner."""
    endpoint_hash = policy.endpoint_hash(body.endpoint)
    row = (
        await session.execute(
            select(PushSubscription).where(PushSubscription.endpoint_hash == endpoint_hash)
        )
    ).scalar_one_or_none()
    if row is None:
        row = PushSubscription(id=new_id(), endpoint_hash=endpoint_hash, endpoint=body.endpoint)
        session.add(row)
    row.user_id = user_id
    row.p256dh = body.keys.p256dh
    row.auth = body.keys.auth
    row.user_agent = (user_agent or "")[:255] or None
    await session.flush()
    return row


async def check_remove_push_subscription(
    session: AsyncSession, *, user_id: int, subscription_id: int
) -> None:
    """Forget one of the caller's subscriptions; someone else's is a 404."""
    result = await session.execute(
        delete(PushSubscription).where(
            PushSubscription.id == subscription_id, PushSubscription.user_id == user_id
        )
    )
    if not rowcount(result):
        raise NotFound("No such push subscription")


async def do_remove_push_subscription(session: AsyncSession, *, subscription_id: int) -> None:
    """The push service said the subscription is gone (404/410): never use it again."""
    await session.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))


async def do_mark_push_success(session: AsyncSession, *, subscription_ids: list[int]) -> None:
    if subscription_ids:
        await session.execute(
            update(PushSubscription)
            .where(PushSubscription.id.in_(subscription_ids))
            .values(last_success_at=utcnow())
        )


async def do_mark_sent(
    session: AsyncSession, *, notification_id: int, channel: str, at: datetime
) -> None:
    """Record that a channel delivered, so a retried job does not send it twice."""
    column = "push_sent_at" if channel == "push" else "email_sent_at"
    await session.execute(
        update(Notification).where(Notification.id == notification_id).values({column: at})
    )


# housekeeping ------------------------------------------------------------------------------------


async def do_cleanup(
    session: AsyncSession, *, now: datetime, read_retention: timedelta, batch: int = 5000
) -> int:
    """Delete one batch of expired notifications and of read ones past retention.

    Each kind is found through an index: `expires_at` for the expired, and for the read ones
    the primary key, since a notification read before the cutoff was created before it too
    (ids are time-sortable).
    """
    cutoff = now - read_retention
    expired = select(Notification.id).where(Notification.expires_at < now).limit(batch)
    old_read = (
        select(Notification.id)
        .where(
            Notification.id < first_id_at(cutoff),
            Notification.read_at.is_not(None),
            Notification.read_at < cutoff,
        )
        .limit(batch)
    )
    ids = {int(i) for i in (await session.execute(expired)).scalars()}
    ids |= {int(i) for i in (await session.execute(old_read)).scalars()}
    doomed = sorted(ids)[:batch]
    if doomed:
        await session.execute(delete(Notification).where(Notification.id.in_(doomed)))
    return len(doomed)


def first_id_at(moment: datetime) -> int:
    """The smallest id made at `moment` (ids start with their millisecond since the epoch)."""
    ms = max(0, int(moment.timestamp() * 1000) - id_layout.EPOCH_MS)
    return ms << (id_layout.NODE_BITS + id_layout.SEQUENCE_BITS)
