"""Push and email delivery, decided when the job runs: preferences, presence, quiet hours.

A notification is stored and shown in-app at once; the delivery job then looks again at what
the recipient wants *now*: a channel switched off since, a client open right now (in-app is
enough), or quiet hours (push and email wait until they end) all count. Urgent notifications
skip the presence and quiet-hour rules. Each channel's send is recorded on the notification,
so a retried job never sends the same notification twice.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import and_, exists, func, or_, select

from townsquare.core.clock import utcnow
from townsquare.core.errors import NotFound
from townsquare.domains.accounts.models import User, UserSettings
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed import queries as feed_queries
from townsquare.domains.notifications import actions, policy, queries
from townsquare.domains.notifications.models import (
    Notification,
    NotificationSchedule,
    PushSubscription,
)
from townsquare.domains.posts import queries as posts_queries
from townsquare.domains.presence.queries import presence_service
from townsquare.infra.email import Email, EmailError, Mailer, SmtpConfig
from townsquare.infra.push import PushError, PushSender, PushTarget, load_or_create_vapid_pem

if TYPE_CHECKING:
    from townsquare.context import AppContext

log = structlog.get_logger(__name__)
_ATTR = "_townsquare_notification_channels"
URGENCY = {"low": "low", "normal": "normal", "high": "high", "urgent": "high"}
MAX_PUSH_BYTES = 3000


class DeliveryFailed(Exception):
    """Some sends failed for reasons worth retrying; the job system retries with backoff."""


@dataclass
class Channels:
    """The push sender and mailer of one process (made on first use, kept on the context)."""

    push: PushSender | None
    mailer: Mailer | None
    public_url: str
    secret: str


def channels(ctx: AppContext) -> Channels:
    """This process's delivery channels; push needs nothing configured, email needs SMTP."""
    found: Channels | None = getattr(ctx, _ATTR, None)
    if found is not None:
        return found
    s = ctx.settings
    push = None
    if s.push_enabled:
        push = PushSender(
            pem=load_or_create_vapid_pem(s.keys_dir),
            subject=s.push_vapid_subject,
            ttl_seconds=s.push_ttl_seconds,
            timeout_seconds=s.push_timeout_seconds,
        )
    mailer = None
    if s.smtp_host:
        mailer = Mailer(
            SmtpConfig(
                host=s.smtp_host,
                port=s.smtp_port,
                tls=s.smtp_tls,
                username=s.smtp_username,
                password=s.smtp_password,
                sender=s.smtp_from,
                timeout=s.smtp_timeout_seconds,
            )
        )
    found = Channels(push, mailer, s.notifications_public_url.rstrip("/"), ctx.jwt_secret)
    setattr(ctx, _ATTR, found)
    return found


def unsubscribe_url(ch: Channels, *, user_id: int, category: str) -> str:
    token = policy.unsubscribe_token(ch.secret, user_id=user_id, category=category)
    return f"{ch.public_url}/api/v1/notifications/unsubscribe?token={token}"


def push_payload(row: Notification, public_url: str) -> bytes:
    """What the service worker receives (decrypted): enough to show the notification."""
    body = {
        "id": str(row.id),
        "type": row.type,
        "category": row.category,
        "priority": row.priority,
        "title": row.title,
        "message": row.message,
        "count": row.group_count,
        "data": row.data or {},
        "url": f"{public_url}/notifications/{row.id}",
    }
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    if len(raw) > MAX_PUSH_BYTES:  # push services refuse more than ~4 KB after encryption
        body["data"] = {}
        body["message"] = row.message[:300]
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return raw


def notification_email(ch: Channels, row: Notification, *, to: str, name: str) -> Email:
    """One notification as a plain-text and HTML email with its category's unsubscribe link."""
    link = f"{ch.public_url}/notifications/{row.id}"
    unsubscribe = unsubscribe_url(ch, user_id=row.recipient_id, category=row.category)
    lines = [f"Hi {name},", "", row.title]
    if row.message:
        lines += ["", row.message]
    lines += [
        "",
        f"Open: {link}",
        "",
        f"Stop emails about {row.category.replace('_', ' ')}: {unsubscribe}",
    ]
    body = (
        f"<p>Hi {html.escape(name)},</p><p><strong>{html.escape(row.title)}</strong></p>"
        + (f"<p>{html.escape(row.message)}</p>" if row.message else "")
        + f'<p><a href="{html.escape(link)}">Open townsquare</a></p>'
        + f'<p style="font-size:small"><a href="{html.escape(unsubscribe)}">'
        + f"Stop emails about {html.escape(row.category.replace('_', ' '))}</a></p>"
    )
    return Email(
        to=to,
        subject=" ".join(row.title.split()),  # names may hold line breaks; headers may not
        text="\n".join(lines) + "\n",
        html=f"<html><body>{body}</body></html>",
        unsubscribe_url=unsubscribe,
    )


@dataclass(slots=True)
class _Recipient:
    email: str
    name: str
    active: bool
    timezone: str
    categories: dict[str, Any]
    quiet_start: int | None
    quiet_end: int | None


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
            found = await session.execute(
                select(
                    User.id,
                    User.email,
                    User.display_name,
                    User.username,
                    User.status,
                    UserSettings.timezone,
                    UserSettings.notification_categories,
                    NotificationSchedule.quiet_start_minute,
                    NotificationSchedule.quiet_end_minute,
                )
                .join(UserSettings, UserSettings.user_id == User.id)
                .outerjoin(NotificationSchedule, NotificationSchedule.user_id == User.id)
                .where(User.id.in_(users))
            )
            for r in found:
                people[r[0]] = _Recipient(
                    email=r[1],
                    name=r[2] or r[3],
                    active=r[4] == "active",
                    timezone=r[5],
                    categories=r[6] or {},
                    quiet_start=r[7],
                    quiet_end=r[8],
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
    ch = channels(ctx)
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
            sent, gone, error = await _push(ch.push, row, subs[row.recipient_id], ch.public_url)
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


async def _push(
    sender: PushSender, row: Notification, subs: list[PushSubscription], public_url: str
) -> tuple[list[int], list[int], str | None]:
    """Send to each of the user's browsers: (delivered ids, gone ids, first retryable error)."""
    payload = push_payload(row, public_url)
    sent: list[int] = []
    gone: list[int] = []
    error: str | None = None
    for sub in subs:
        target = PushTarget(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth)
        try:
            outcome = await sender.send(
                target, payload, urgency=URGENCY.get(row.priority, "normal")
            )
        except PushError as exc:
            error = error or str(exc)
            continue
        (gone if outcome == "gone" else sent).append(sub.id)
    return sent, gone, error


# digests -----------------------------------------------------------------------------------------

DIGEST_ITEMS = 20


@dataclass(frozen=True, slots=True)
class TopPost:
    author: str
    excerpt: str
    url: str


def _excerpt(text: str, limit: int = 140) -> str:
    plain = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
    return plain if len(plain) <= limit else plain[: limit - 1].rstrip() + "…"


async def top_posts(
    ctx: AppContext, session: Any, *, user_id: int, username: str, now: datetime, limit: int = 3
) -> list[TopPost]:
    """The best-ranked recent posts of the people the user follows or is friends with.

    The feed's own ranking decides (docs/FEED.md), as the user would see it; their own posts
    are left out.
    """
    viewer = Principal(user_id=user_id, session_id=0, role="user", username=username)
    scored, _ = await feed_queries.ranked_ids(
        session, principal=viewer, settings=ctx.settings, now=now
    )
    found: list[TopPost] = []
    for post_id, _score in scored[: limit * 4]:
        try:
            view = await posts_queries.get_post_view(
                session, viewer=viewer, post_id=post_id, media=ctx.media
            )
        except NotFound:
            continue
        if int(view.author.id) == user_id or not view.text:
            continue
        author = view.author.display_name or view.author.username
        url = f"{ctx.settings.notifications_public_url.rstrip('/')}/posts/{view.id}"
        found.append(TopPost(author=author, excerpt=_excerpt(view.text), url=url))
        if len(found) == limit:
            break
    return found


def digest_email(
    ch: Channels,
    *,
    user_id: int,
    to: str,
    name: str,
    period: str,
    items: list[Notification],
    total: int,
    posts: list[TopPost] | None = None,
) -> Email:
    """A summary of unread notifications and top posts: text and HTML, with unsubscribe link."""
    unsubscribe = unsubscribe_url(ch, user_id=user_id, category="system")
    link = f"{ch.public_url}/notifications"
    heading = f"Your {period} townsquare digest: {total} unread notification" + (
        "s" if total != 1 else ""
    )
    lines = [f"Hi {name},", "", heading, ""]
    lines += [f"- {row.title}" for row in items]
    if total > len(items):
        lines.append(f"... and {total - len(items)} more")
    posts = posts or []
    if posts:
        lines += ["", "Top posts from your network:"]
        lines += [f"- {p.author}: {p.excerpt} ({p.url})" for p in posts]
    lines += ["", f"Open: {link}", "", f"Stop digest emails: {unsubscribe}"]
    entries = "".join(f"<li>{html.escape(row.title)}</li>" for row in items)
    more = f"<p>… and {total - len(items)} more</p>" if total > len(items) else ""
    if posts:
        more += (
            "<h3>Top posts from your network</h3><ul>"
            + "".join(
                f'<li><strong>{html.escape(p.author)}</strong>: <a href="{html.escape(p.url)}">'
                f"{html.escape(p.excerpt)}</a></li>"
                for p in posts
            )
            + "</ul>"
        )
    body = (
        f"<p>Hi {html.escape(name)},</p><h2>{html.escape(heading)}</h2><ul>{entries}</ul>{more}"
        f'<p><a href="{html.escape(link)}">Open townsquare</a></p>'
        f'<p style="font-size:small"><a href="{html.escape(unsubscribe)}">'
        "Stop digest emails</a></p>"
    )
    return Email(
        to=to,
        subject=heading,
        text="\n".join(lines) + "\n",
        html=f"<html><body>{body}</body></html>",
        unsubscribe_url=unsubscribe,
    )


async def send_due_digests(ctx: AppContext, *, now: datetime | None = None) -> int:
    """Email each user whose local digest morning it is a summary of what they have not read.

    Users with nothing unread since their last digest get no email. The digest counts as system
    mail: switching email off for the system category (or digest to never) stops it.
    """
    now = now or utcnow()
    ch = channels(ctx)
    if ch.mailer is None:
        return 0
    hour = ctx.settings.notifications_digest_hour
    horizon = now - timedelta(days=8)
    unread = exists().where(
        Notification.recipient_id == User.id,
        Notification.read_at.is_(None),
        Notification.in_app.is_(True),
        Notification.created_at >= horizon,
    )
    async with ctx.db.read() as session:
        candidates = (
            await session.execute(
                select(
                    User.id,
                    User.email,
                    User.display_name,
                    User.username,
                    UserSettings.digest,
                    UserSettings.timezone,
                    NotificationSchedule.last_digest_at,
                )
                .join(UserSettings, UserSettings.user_id == User.id)
                .outerjoin(NotificationSchedule, NotificationSchedule.user_id == User.id)
                .where(User.status == "active", UserSettings.digest != "never", unread)
            )
        ).all()
    sent = 0
    for uid, email, display, username, digest, timezone, last in candidates:
        if not policy.digest_due(now, digest=digest, timezone=timezone, last_sent=last, hour=hour):
            continue
        since = max(last or horizon, now - timedelta(days=1 if digest == "daily" else 7))
        async with ctx.db.read() as session:
            wants = await queries.channels_for(session, user_id=uid, category="system")
            if wants is None or not wants.email:
                continue
            base = and_(
                queries.visible(uid, now),
                Notification.read_at.is_(None),
                Notification.updated_at >= since,
            )
            total = int(
                (
                    await session.execute(
                        select(func.count()).select_from(Notification).where(base)
                    )
                ).scalar_one()
            )
            items = list(
                (
                    await session.execute(
                        select(Notification)
                        .where(base)
                        .order_by(Notification.updated_at.desc())
                        .limit(DIGEST_ITEMS)
                    )
                ).scalars()
            )
            if not items:
                continue
            posts = await top_posts(ctx, session, user_id=uid, username=username, now=now)
        period = "daily" if digest == "daily" else "weekly"
        mail = digest_email(
            ch,
            user_id=uid,
            to=email,
            name=display or username,
            period=period,
            items=items,
            total=total,
            posts=posts,
        )
        try:
            await ch.mailer.send(mail)
        except EmailError:
            log.warning("digest_failed", user_id=uid)
            continue
        async with ctx.db.transaction() as session:
            await actions.do_mark_digest_sent(session, user_id=uid, at=now)
        sent += 1
    return sent
