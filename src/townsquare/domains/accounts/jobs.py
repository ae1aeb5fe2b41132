"""Background jobs of the accounts domain."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from townsquare.domains.accounts import actions
from townsquare.infra.jobs import registry

if TYPE_CHECKING:
    from townsquare.context import AppContext

PURGE_SESSIONS_JOB = "accounts.purge_sessions"
KEEP_ENDED_SESSIONS = timedelta(days=30)


@registry.job(PURGE_SESSIONS_JOB, max_attempts=3)
async def purge_sessions(ctx: AppContext, payload: dict[str, Any]) -> None:
    """Drop sessions (and their refresh tokens) that ended or expired over 30 days ago."""
    async with ctx.db.transaction() as session:
        await actions.do_purge_stale_sessions(session, older_than=KEEP_ENDED_SESSIONS)


registry.every(6 * 3600, PURGE_SESSIONS_JOB)
