"""Digest emails: what a user has not read, and the top posts of their network, each morning."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.clock import utcnow
from townsquare.core.errors import NotFound
from townsquare.domains.accounts import queries as account_queries
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed import queries as feed_queries
from townsquare.domains.notifications import actions, policy, queries
from townsquare.domains.notifications.channels import Channels, process_channels
from townsquare.domains.notifications.email_delivery import unsubscribe_url
from townsquare.domains.notifications.models import Notification, NotificationSchedule
from townsquare.domains.posts import queries as posts_queries
from townsquare.infra.email import Email, EmailError

if TYPE_CHECKING:
    from townsquare.context import AppContext

log = structlog.get_logger(__name__)


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


async def _last_digests(
    session: AsyncSession, *, user_ids: list[int]
) -> dict[int, datetime | None]:
    """When each of these users who has a schedule was last sent a digest."""
    out: dict[int, datetime | None] = {}
    for start in range(0, len(user_ids), queries.CHUNK):
        rows = await session.execute(
            select(NotificationSchedule.user_id, NotificationSchedule.last_digest_at).where(
                NotificationSchedule.user_id.in_(user_ids[start : start + queries.CHUNK])
            )
        )
        for uid, last in rows:
            out[uid] = last
    return out


async def send_due_digests(ctx: AppContext, *, now: datetime | None = None) -> int:
    """Email each user whose local digest morning it is a summary of what they have not read.

    Users with nothing unread since their last digest get no email. The digest counts as system
    mail: switching email off for the system category (or digest to never) stops it.
    """
    now = now or utcnow()
    ch = process_channels(ctx)
    if ch.mailer is None:
        return 0
    hour = ctx.settings.notifications_digest_hour
    horizon = now - timedelta(days=8)
    async with ctx.db.read() as session:
        unread = await session.execute(
            select(Notification.recipient_id)
            .distinct()
            .where(
                Notification.read_at.is_(None),
                Notification.in_app.is_(True),
                Notification.created_at >= horizon,
            )
        )
        found = await account_queries.contacts(session, user_ids=sorted(unread.scalars()))
        wanting = [c for c in found.values() if c.status == "active" and c.digest != "never"]
        last_sent = await _last_digests(session, user_ids=[c.user_id for c in wanting])
    sent = 0
    for c in wanting:
        uid, digest, last = c.user_id, c.digest, last_sent.get(c.user_id)
        if not policy.digest_due(
            now, digest=digest, timezone=c.timezone, last_sent=last, hour=hour
        ):
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
            posts = await top_posts(ctx, session, user_id=uid, username=c.username, now=now)
        period = "daily" if digest == "daily" else "weekly"
        mail = digest_email(
            ch,
            user_id=uid,
            to=c.email,
            name=c.display_name or c.username,
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
