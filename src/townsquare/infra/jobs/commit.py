"""Enqueue after commit: a job for a row that rolled back would act on a lie."""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from townsquare.infra.jobs.base import Job, JobQueue

PENDING_JOBS_KEY = "townsquare.pending_jobs"
_queues: weakref.WeakKeyDictionary[AsyncEngine, JobQueue] = weakref.WeakKeyDictionary()


def attach(engine: AsyncEngine, queue: JobQueue) -> None:
    """Make `defer` on sessions of this engine enqueue on this queue."""
    _queues[engine] = queue


def queue_for(session: AsyncSession) -> JobQueue | None:
    """The queue attached to the engine this session writes to, if any."""
    bind = session.bind
    return _queues.get(bind) if isinstance(bind, AsyncEngine) else None


def defer(
    session: AsyncSession,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    delay: float = 0.0,
    run_at: float | None = None,
) -> None:
    """Enqueue a job once this session's transaction commits; nothing if it rolls back."""
    queue = queue_for(session)
    if queue is None:
        raise RuntimeError("no job queue is attached to this database")
    pending: list[Job] | None = session.info.get(PENDING_JOBS_KEY)
    if pending is None:
        pending = session.info[PENDING_JOBS_KEY] = []
        sync = session.sync_session

        def committed(sync_session: Session) -> None:
            jobs: list[Job] = sync_session.info.pop(PENDING_JOBS_KEY, [])
            if jobs:
                queue._defer_after_commit(session, jobs)

        def rolled_back(sync_session: Session, *_: Any) -> None:
            sync_session.info.pop(PENDING_JOBS_KEY, None)

        event.listen(sync, "after_commit", committed, once=True)
        event.listen(sync, "after_soft_rollback", rolled_back, once=True)
    pending.append(queue.make(name, payload, delay=delay, run_at=run_at))
