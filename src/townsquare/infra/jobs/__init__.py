"""Background jobs: an in-process runner (embedded) or a Redis queue (cluster, `townsquare worker`).

A domain registers job functions in its `jobs.py` (imported by the app's DOMAINS, wiring.py):

    @registry.job("notifications.deliver", max_attempts=6)
    async def deliver(ctx: AppContext, payload: dict[str, Any]) -> None: ...

    registry.every(3600, "notifications.cleanup")   # a scheduled job, once per slot per cluster

and queues work with `await ctx.jobs.enqueue(name, payload)` or, inside a transaction, with
`defer(session, name, payload)`, which enqueues only once the transaction has committed (a job
for a row that rolled back would act on a lie, as an event would).

A failing job is retried with exponential backoff; after `max_attempts` it becomes a dead letter
that admins list, replay or discard (`/api/v1/admin/jobs/...`). A job raising `Reschedule` runs
again later without spending an attempt (quiet hours); one raising `Permanent` fails at once.

Embedded mode keeps the queue in memory: queued and delayed jobs do not survive a restart (the
data they act on does; see docs/decisions/0301-job-queue.md). Cluster mode keeps everything in
Redis: a ready list, a delayed sorted set, one processing list per worker (given back to the
ready list when that worker stops heartbeating) and a dead-letter hash.

`base` holds what both queues share (registry, job record, retries, the run loop, schedules),
`memory` and `redis` the two stores, `commit` the enqueue-after-commit of `defer`.
"""

from __future__ import annotations

from townsquare.infra.jobs.base import (
    Job,
    JobFn,
    JobMetrics,
    JobQueue,
    JobRegistry,
    JobSpec,
    Permanent,
    QueueOptions,
    Reschedule,
    ScheduleSpec,
    registry,
)
from townsquare.infra.jobs.commit import PENDING_JOBS_KEY, attach, defer, queue_for
from townsquare.infra.jobs.memory import MemoryJobQueue
from townsquare.infra.jobs.redis import RedisJobQueue

__all__ = [
    "PENDING_JOBS_KEY",
    "Job",
    "JobFn",
    "JobMetrics",
    "JobQueue",
    "JobRegistry",
    "JobSpec",
    "MemoryJobQueue",
    "Permanent",
    "QueueOptions",
    "RedisJobQueue",
    "Reschedule",
    "ScheduleSpec",
    "attach",
    "defer",
    "make_queue",
    "queue_for",
    "registry",
]


def make_queue(
    redis_url: str | None, *, namespace: str, options: QueueOptions | None = None
) -> JobQueue:
    """Redis when a URL is configured, else the in-memory queue."""
    if redis_url:
        return RedisJobQueue(redis_url, namespace=namespace, options=options)
    return MemoryJobQueue(options=options)
