"""Notification setup: fast inline jobs, and the notify service called as another domain would."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.accounts import Member
from tests.helpers.app import app_ctx
from townsquare.domains.notifications import actions
from townsquare.domains.notifications.models import Notification

INBOX = "/api/v1/realtime/notifications"
FAST_JOBS: dict[str, Any] = {
    "jobs_run_inline": True,  # cluster too: this API process consumes the Redis queue
    "jobs_retry_base_seconds": 0.05,
    "jobs_retry_max_seconds": 0.2,
    "jobs_poll_seconds": 0.05,
    "jobs_schedules_enabled": False,
    "push_timeout_seconds": 5.0,
    "push_https_only": False,  # the local push service speaks plain http
}


async def notify(client: httpx.AsyncClient, **kw: Any) -> Notification | None:
    """Run the notify service in its own transaction, as a trigger in another domain would."""
    kw = {
        k: int(v) if k in ("recipient_id", "actor_id") and v is not None else v
        for k, v in kw.items()
    }
    async with app_ctx(client).db.transaction() as session:
        return await actions.notify(session, **kw)


async def newest_notification(client: httpx.AsyncClient, member: Member) -> dict[str, Any]:
    """The member's newest notification as the list API shows it."""
    reply = await client.get(INBOX, headers=member.headers)
    assert reply.status_code == 200, reply.text
    item: dict[str, Any] = reply.json()["items"][0]
    return item
