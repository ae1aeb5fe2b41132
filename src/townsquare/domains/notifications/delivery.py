"""Push and email delivery, decided when the job runs: preferences, presence, quiet hours.

A notification is stored and shown in-app at once; the delivery job then looks again at what
the recipient wants *now*: a channel switched off since, a client open right now (in-app is
enough), or quiet hours (push and email wait until they end) all count. Urgent notifications
skip the presence and quiet-hour rules. Each channel's send is recorded on the notification,
so a retried job never sends the same notification twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.clock import utcnow
from townsquare.domains.accounts import queries as account_queries
from townsquare.domains.notifications import actions, policy, queries
from townsquare.domains.notifications.channels import process_channels
from townsquare.domains.notifications.email_delivery import notification_email
from townsquare.domains.notifications.models import (
    Notification,
    NotificationSchedule,
    PushSubscription,
)
from townsquare.domains.notifications.push_delivery import send_push
from townsquare.domains.presence.queries import presence_service
from townsquare.infra.email import EmailError

if TYPE_CHECKING:
    from townsquare.context import AppContext


class DeliveryFailed(Exception):
    """Some sends failed for reasons worth retrying; the job system retries with backoff."""


@dataclass(slots=True)
class _Recipient:
    email: str
    name: str
    active: bool
    timezone: str
    categories: dict[str, Any]
    quiet_start: int | None
    quiet_end: int | None


async def _quiet_hours(
    session: AsyncSession, *, user_ids: list[int]
) -> dict[int, tuple[int | None, int | None]]:
    """(start, end) of the quiet hours of those of these users who have a schedule."""
    out: dict[int, tuple[int | None, int | None]] = {}
    for start in range(0, len(user_ids), queries.CHUNK):
        rows = await session.execute(
            select(
                NotificationSchedule.user_id,
                NotificationSchedule.quiet_start_minute,
                NotificationSchedule.quiet_end_minute,
            ).where(NotificationSchedule.user_id.in_(user_ids[start : start + queries.CHUNK]))
        )
        for uid, quiet_start, quiet_end in rows:
            out[uid] = (quiet_start, quiet_end)
    return out


async def _load(
    ctx: AppContext, ids: list[int], now: datetime
) -> tuple[
    list[Notification],
    dict[int, _Recipient],
    dict[tuple[int, str], queries.Channels],
    dict[int, list[PushSubscription]],
]:
    async with ctx.db.read() as session:
        rows = list(
            (
                await session.execute(
                    select(Notification).where(
                        Notification.id.in_(ids),
                        Notification.read_at.is_(None),
                        or_(Notification.expires_at.is_(None), Notification.expires_at > now),
                    )
                )
            ).scalars()
        )
        users = sorted({r.recipient_id for r in rows})
        people: dict[int, _Recipient] = {}
        if users:
            found = await account_queries.contacts(session, user_ids=users)
            quiet = await _quiet_hours(session, user_ids=list(found))
            for uid, c in found.items():
                start, end = quiet.get(uid, (None, None))
                people[uid] = _Recipient(
                    email=c.email,
                    name=c.display_name or c.username,
                    active=c.status == "active",
                    timezone=c.timezone,
                    categories=c.notification_categories or {},
                    quiet_start=start,
                    quiet_end=end,
                )
        wanted: dict[tuple[int, str], queries.Channels] = {}
        for category in {r.category for r in rows}:
            members = sorted({r.recipient_id for r in rows if r.category == category})
            got = await queries.channels_for_many(session, user_ids=members, category=category)
            for uid, value in got.items():
                wanted[(uid, category)] = value
        subs: dict[int, list[PushSubscription]] = defaultdict(list)
        if users:
            for sub in (
                await session.execute(
                    select(PushSubscription).where(PushSubscription.user_id.in_(users))
                )
            ).scalars():
                subs[sub.user_id].append(sub)
    return rows, people, wanted, subs


async def deliver(
    ctx: AppContext, ids: list[int], *, now: datetime | None = None
) -> dict[str, int]:
    """Send push and email for these notifications as the recipients want it right now."""
    now = now or utcnow()
    ch = process_channels(ctx)
    rows, people, wanted, subs = await _load(ctx, ids, now)
    presence = presence_service(ctx)
    waiting: dict[datetime, list[int]] = defaultdict(list)
    counts = {"push": 0, "email": 0, "skipped": 0, "waiting": 0, "gone": 0}
    failures: list[str] = []
    online: dict[int, bool] = {}
    for row in rows:
        person = people.get(row.recipient_id)
        choice = wanted.get((row.recipient_id, row.category))
        if person is None or choice is None or not person.active:
            counts["skipped"] += 1
            continue
        push_due = (
            choice.push
            and ch.push is not None
            and row.push_sent_at is None
            and bool(subs.get(row.recipient_id))
        )
        email_due = (
            choice.email and ch.mailer is not None and row.email_sent_at is None and person.email
        )
        if not (push_due or email_due):
            counts["skipped"] += 1
            continue
        if row.priority != "urgent":
            if row.recipient_id not in online:
                info = await presence.get(row.recipient_id)
                online[row.recipient_id] = info.status == "online"
            if online[row.recipient_id]:
                counts["skipped"] += 1  # they are looking at a client: in-app is enough
                continue
            until = policy.quiet_until(
                now, start=person.quiet_start, end=person.quiet_end, timezone=person.timezone
            )
            if until is not None:
                waiting[until].append(row.id)
                counts["waiting"] += 1
                continue
        if push_due:
            assert ch.push is not None
            sent, gone, error = await send_push(ch.push, row, subs[row.recipient_id], ch.public_url)
            counts["gone"] += len(gone)
            async with ctx.db.transaction() as session:
                for sub_id in gone:
                    await actions.do_remove_push_subscription(session, subscription_id=sub_id)
                await actions.do_mark_push_success(session, subscription_ids=sent)
                if error is None:
                    await actions.do_mark_sent(
                        session, notification_id=row.id, channel="push", at=utcnow()
                    )
            if error is not None:
                failures.append(error)
            elif sent:
                counts["push"] += 1
        if email_due:
            assert ch.mailer is not None
            try:
                await ch.mailer.send(notification_email(ch, row, to=person.email, name=person.name))
            except EmailError as exc:
                failures.append(str(exc))
            else:
                counts["email"] += 1
                async with ctx.db.transaction() as session:
                    await actions.do_mark_sent(
                        session, notification_id=row.id, channel="email", at=utcnow()
                    )
    for until, later in waiting.items():
        await ctx.jobs.enqueue(actions.DELIVER_JOB, {"ids": later}, run_at=until.timestamp())
    if failures:
        raise DeliveryFailed("; ".join(failures)[:1000])
    return counts
