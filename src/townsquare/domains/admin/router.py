"""Admin routes of the job system: queue depths, dead letters, replay and discard."""

from __future__ import annotations

from fastapi import APIRouter, Response

from townsquare.core.errors import NotFound
from townsquare.core.pagination import Page, decode_id_cursor, encode_cursor
from townsquare.core.params import Cursor, IdPath, Limit
from townsquare.domains.accounts.dependencies import AdminUser, Ctx
from townsquare.domains.admin.schemas import DeadJob, QueueState, Replayed
from townsquare.infra.jobs import Job

router = APIRouter(prefix="/api/v1/admin/jobs", tags=["admin"])


def _view(job: Job) -> DeadJob:
    return DeadJob(
        id=int(job.id),
        name=job.name,
        payload=job.payload,
        attempts=job.attempts,
        last_error=job.last_error,
        enqueued_at=job.enqueued_at,
        failed_at=job.failed_at,
    )


@router.get("")
async def queue_state(ctx: Ctx, principal: AdminUser) -> QueueState:
    """How much work is waiting, running and dead, and which jobs this build knows."""
    counts = await ctx.jobs.counts()
    return QueueState(
        backend=ctx.jobs.backend,
        consuming_here=ctx.jobs.consuming,
        jobs=sorted(ctx.jobs.jobs.specs),
        schedules={n: s.every for n, s in sorted(ctx.jobs.jobs.schedules.items())},
        **counts,
    )


@router.get("/dead")
async def list_dead(
    ctx: Ctx,
    principal: AdminUser,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[DeadJob]:
    """Jobs that failed every attempt, newest first, with their last error."""
    before = str(decode_id_cursor(cursor)) if cursor else None
    jobs = await ctx.jobs.list_dead(limit=limit + 1, before=before)
    more = len(jobs) > limit
    jobs = jobs[:limit]
    next_cursor = encode_cursor({"id": int(jobs[-1].id)}) if more else None
    return Page(items=[_view(j) for j in jobs], next_cursor=next_cursor)


@router.get("/dead/{job_id}")
async def get_dead(job_id: IdPath, ctx: Ctx, principal: AdminUser) -> DeadJob:
    """One dead letter with its payload and last error."""
    job = await ctx.jobs.get_dead(str(job_id))
    if job is None:
        raise NotFound("No such dead job")
    return _view(job)


@router.post("/dead/{job_id}/replay", status_code=202)
async def replay_dead(job_id: IdPath, ctx: Ctx, principal: AdminUser) -> Replayed:
    """Queue a dead letter again with a fresh set of attempts (after fixing its cause)."""
    if not await ctx.jobs.replay(str(job_id)):
        raise NotFound("No such dead job")
    return Replayed(id=job_id, replayed=True)


@router.delete("/dead/{job_id}", status_code=204)
async def discard_dead(job_id: IdPath, ctx: Ctx, principal: AdminUser) -> Response:
    """Forget a dead letter that should never run."""
    if not await ctx.jobs.discard(str(job_id)):
        raise NotFound("No such dead job")
    return Response(status_code=204)
