"""Background jobs of the notifications domain: delivery, announcements, digests, cleanup."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from townsquare.core.clock import utcnow
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.notifications import actions, delivery, digests
from townsquare.infra.jobs import registry

if TYPE_CHECKING:
    from townsquare.context import AppContext

ANNOUNCE_JOB = "notifications.announce"
CLEANUP_JOB = "notifications.cleanup"
DIGEST_JOB = "notifications.digest"
ANNOUNCE_BATCH = 1000


@registry.job(actions.DELIVER_JOB, max_attempts=6)
async def deliver(ctx: AppContext, payload: dict[str, Any]) -> None:
    """Push and email for a batch of notifications (see delivery.py for the rules)."""
    await delivery.deliver(ctx, [int(i) for i in payload["ids"]])


@registry.job(ANNOUNCE_JOB, max_attempts=3, timeout=3600)
async def announce(ctx: AppContext, payload: dict[str, Any]) -> None:
    """Notify every active user, a batch per transaction; `after` makes a retry resume."""
    after = int(payload.get("after", 0))
    expires = payload.get("expires_at")
    expires_at = datetime.fromisoformat(expires) if expires else None
    while True:
        async with ctx.db.read() as session:
            batch = await accounts_queries.active_user_ids(
                session, after=after, limit=ANNOUNCE_BATCH
            )
        if not batch:
            return
        async with ctx.db.transaction() as session:
            await actions.notify_many(
                session,
                recipient_ids=batch,
                type="announcement",
                title=str(payload["title"]),
                message=str(payload.get("message", "")),
                priority=str(payload.get("priority", "normal")),
                data=dict(payload.get("data") or {}),
                expires_at=expires_at,
            )
        after = batch[-1]
        payload["after"] = after  # a retry of this job continues after the last full batch


@registry.job(CLEANUP_JOB, max_attempts=3, timeout=3600)
async def cleanup(ctx: AppContext, payload: dict[str, Any]) -> None:
    """Delete expired notifications and read ones older than the retention, in batches."""
    retention = timedelta(days=ctx.settings.notifications_read_retention_days)
    while True:
        async with ctx.db.transaction() as session:
            deleted = await actions.do_cleanup(session, now=utcnow(), read_retention=retention)
        if deleted < 5000:
            return


@registry.job(DIGEST_JOB, max_attempts=2, timeout=3600)
async def digest(ctx: AppContext, payload: dict[str, Any]) -> None:
    """Send the digests due this quarter hour (each user's local morning)."""
    await digests.send_due_digests(ctx)


registry.every(3600, CLEANUP_JOB)
registry.every(900, DIGEST_JOB)
