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
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import os
import random
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, cast

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from townsquare.core.ids import new_id

if TYPE_CHECKING:
    from townsquare.context import AppContext

log = structlog.get_logger(__name__)

JobFn = Callable[["AppContext", dict[str, Any]], Awaitable[None]]
PENDING_JOBS_KEY = "townsquare.pending_jobs"


class Reschedule(Exception):
    """Raised by a job to run again at `run_at` (epoch seconds) without spending an attempt."""

    def __init__(self, run_at: float, payload: dict[str, Any] | None = None) -> None:
        super().__init__(f"rescheduled to {run_at}")
        self.run_at = run_at
        self.payload = payload


class Permanent(Exception):
    """Raised by a job that can never succeed: it becomes a dead letter without retries."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A registered job function and how hard to try it."""

    name: str
    fn: JobFn
    max_attempts: int
    timeout: float


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A job enqueued once per `every` seconds across the whole deployment."""

    job: str
    every: float
    payload: dict[str, Any]


class JobRegistry:
    """Job names to functions, plus the schedules; domains register at import time."""

    def __init__(self) -> None:
        self.specs: dict[str, JobSpec] = {}
        self.schedules: dict[str, ScheduleSpec] = {}

    def job(
        self, name: str, *, max_attempts: int = 5, timeout: float = 120.0
    ) -> Callable[[JobFn], JobFn]:
        """Register a job function under a stable name (the name travels in the queue)."""

        def decorate(fn: JobFn) -> JobFn:
            if name in self.specs:
                raise ValueError(f"job {name!r} already registered")
            self.specs[name] = JobSpec(name, fn, max_attempts, timeout)
            return fn

        return decorate

    def every(self, seconds: float, job: str, payload: dict[str, Any] | None = None) -> None:
        """Enqueue `job` once per `seconds`, by whichever scheduler claims the slot first."""
        self.schedules[job] = ScheduleSpec(job, seconds, payload or {})


registry = JobRegistry()


@dataclass(slots=True)
class Job:
    """One unit of queued work; serialised as JSON in Redis."""

    id: str
    name: str
    payload: dict[str, Any]
    attempts: int = 0
    enqueued_at: float = 0.0
    run_at: float = 0.0
    last_error: str | None = None
    failed_at: float | None = None

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | bytes) -> Job:
        return cls(**json.loads(raw))


@dataclass(frozen=True, slots=True)
class QueueOptions:
    """How a queue retries and how many jobs one process runs at once."""

    concurrency: int = 4
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    poll_seconds: float = 0.5

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with ±20 % jitter, so a burst of failures does not retry in step."""
        delay = min(self.retry_base_seconds * 2 ** max(0, attempts - 1), self.retry_max_seconds)
        return float(delay * random.uniform(0.8, 1.2))


class JobMetrics:
    """Prometheus series of the jobs this process runs (depths: `GET /api/v1/admin/jobs`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "townsquare_jobs_total",
            "Job runs by outcome: ok, retry, dead, rescheduled",
            ["job", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "townsquare_job_duration_seconds", "Time one job run took", ["job"], registry=registry
        )


@dataclass(slots=True)
class _Runtime:
    ctx: AppContext | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    consumers: list[asyncio.Task[None]] = field(default_factory=list)
    running: int = 0
    stopping: bool = False


class JobQueue:
    """Shared behaviour of both queues: running a job, retries, dead letters, schedules."""

    backend = "base"

    def __init__(self, *, options: QueueOptions | None = None, jobs: JobRegistry | None = None):
        self.options = options or QueueOptions()
        self.jobs = jobs or registry
        self._rt = _Runtime()
        self._metrics: JobMetrics | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    # storage primitives, per backend -----------------------------------------------------------

    async def _push(self, jobs: list[Job]) -> None:
        raise NotImplementedError

    async def _bury(self, job: Job) -> None:
        raise NotImplementedError

    async def _done(self, job: Job, raw: Any) -> None:
        raise NotImplementedError

    async def _take(self) -> tuple[Job, Any] | None:
        raise NotImplementedError

    async def _claim_slot(self, name: str, slot: int, ttl: float) -> bool:
        raise NotImplementedError

    async def list_dead(self, *, limit: int, before: str | None = None) -> list[Job]:
        """Dead letters, newest job first; `before` is the id the previous page ended at."""
        raise NotImplementedError

    async def get_dead(self, job_id: str) -> Job | None:
        raise NotImplementedError

    async def discard(self, job_id: str) -> bool:
        """Forget a dead letter; False when there is none with that id."""
        raise NotImplementedError

    async def _pop_dead(self, job_id: str) -> Job | None:
        raise NotImplementedError

    async def counts(self) -> dict[str, int]:
        """Queue depths for admins and metrics: ready, delayed, running, dead."""
        raise NotImplementedError

    async def _pending_now(self) -> int:
        raise NotImplementedError

    # public API --------------------------------------------------------------------------------

    async def enqueue(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        delay: float = 0.0,
        run_at: float | None = None,
    ) -> str:
        """Queue a job to run now, after `delay` seconds, or at `run_at` (epoch seconds)."""
        job = self.make(name, payload, delay=delay, run_at=run_at)
        await self._push([job])
        return job.id

    def make(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        delay: float = 0.0,
        run_at: float | None = None,
    ) -> Job:
        """A job ready to push; refuses names nobody registered, which could never run."""
        if name not in self.jobs.specs:
            raise ValueError(f"unknown job {name!r}")
        now = time.time()
        return Job(
            id=str(new_id()),
            name=name,
            payload=dict(payload or {}),
            enqueued_at=now,
            run_at=run_at if run_at is not None else now + max(0.0, delay),
        )

    async def push_many(self, jobs: list[Job]) -> None:
        """Queue jobs built with `make` in one round trip."""
        if jobs:
            await self._push(jobs)

    async def replay(self, job_id: str) -> bool:
        """Give a dead letter a fresh set of attempts, now; False when there is none."""
        job = await self._pop_dead(job_id)
        if job is None:
            return False
        job.attempts = 0
        job.failed_at = None
        job.run_at = time.time()
        await self._push([job])
        log.info("job_replayed", job=job.name, job_id=job.id)
        return True

    async def start(self, ctx: AppContext, *, consume: bool, schedule: bool) -> None:
        """Start consuming (and scheduling) in this process; both off is a producer only."""
        self._rt.ctx = ctx
        registry = getattr(ctx, "registry", None)
        if self._metrics is None and isinstance(registry, CollectorRegistry):
            self._metrics = JobMetrics(registry)
        if consume:
            for n in range(self.options.concurrency):
                self._spawn(self._consume_loop(), f"jobs-consumer-{n}")
                self._rt.consumers.append(self._rt.tasks[-1])
            self._spawn_extra()
        if schedule and self.jobs.schedules:
            self._spawn(self._schedule_loop(), "jobs-scheduler")

    @property
    def consuming(self) -> bool:
        return bool(self._rt.tasks)

    async def close(self, grace: float = 10.0) -> None:
        """Flush deferred enqueues, let running jobs finish (up to `grace` seconds), then stop.

        A job still running after the grace period is cancelled; the Redis queue gives it back
        to the ready list, so another worker runs it again.
        """
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        self._rt.stopping = True
        self._wake_consumers()
        for task in self._rt.tasks:  # schedules, promotion, heartbeats stop at once
            if task not in self._rt.consumers:
                task.cancel()
        if self._rt.consumers:
            await asyncio.wait(self._rt.consumers, timeout=grace)
        for task in self._rt.tasks:
            task.cancel()
        for task in self._rt.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._rt.tasks.clear()
        self._rt.consumers.clear()

    def _wake_consumers(self) -> None:
        """Make consumers waiting for work look at `stopping` again."""

    async def idle(self, within: float = 10.0) -> None:
        """Wait until nothing due is queued and nothing is running (tests, benchmarks)."""
        deadline = time.monotonic() + within
        quiet_checks = 0
        while True:
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
            busy = self._rt.running or await self._pending_now()
            quiet_checks = 0 if busy else quiet_checks + 1
            if quiet_checks >= 2:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("jobs still pending")
            await asyncio.sleep(0.01)

    # running -----------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._rt.tasks.append(task)

    def _spawn_extra(self) -> None:
        """Backend-specific background tasks (Redis: promotion of due jobs, heartbeats)."""

    async def _consume_loop(self) -> None:
        while not self._rt.stopping:
            try:
                taken = await self._take()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("jobs_take_failed")
                await asyncio.sleep(self.options.poll_seconds)
                continue
            if taken is None:
                continue
            job, raw = taken
            self._rt.running += 1
            try:
                await self.run(job, raw)
            finally:
                self._rt.running -= 1

    async def run(self, job: Job, raw: Any = None) -> None:
        """Run one job; retry it, reschedule it or bury it as its outcome says."""
        ctx = self._rt.ctx
        assert ctx is not None, "start() the queue before running jobs"
        spec = self.jobs.specs.get(job.name)
        outcome: Job | None = None
        try:
            if spec is None:
                raise Permanent(f"no job named {job.name!r} is registered here")
            started = time.perf_counter()
            try:
                await asyncio.wait_for(spec.fn(ctx, job.payload), spec.timeout)
            finally:
                if self._metrics is not None:
                    self._metrics.duration.labels(job.name).observe(time.perf_counter() - started)
            self._count(job, "ok")
        except asyncio.CancelledError:
            raise  # stopping: the job stays in the processing list (Redis) and is retried
        except Reschedule as again:
            outcome = job
            self._count(job, "rescheduled")
            job.run_at = again.run_at
            if again.payload is not None:
                job.payload = again.payload
        except Exception as exc:
            job.attempts += 1
            job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            limit = spec.max_attempts if spec else 1
            if isinstance(exc, Permanent) or job.attempts >= limit:
                job.failed_at = time.time()
                log.warning("job_dead", job=job.name, job_id=job.id, error=job.last_error)
                self._count(job, "dead")
                await self._bury(job)
                await self._done(job, raw)
                return
            log.info("job_retry", job=job.name, job_id=job.id, attempts=job.attempts)
            self._count(job, "retry")
            job.run_at = time.time() + self.options.backoff(job.attempts)
            outcome = job
        if outcome is not None:
            await self._push([outcome])
        await self._done(job, raw)

    def _count(self, job: Job, outcome: str) -> None:
        if self._metrics is not None:
            name = job.name if job.name in self.jobs.specs else "unknown"
            self._metrics.runs.labels(name, outcome).inc()

    async def _schedule_loop(self) -> None:
        """Enqueue each scheduled job once per slot; the slot claim makes it once per cluster."""
        last: dict[str, int] = {}
        while True:
            now = time.time()
            for spec in list(self.jobs.schedules.values()):
                slot = int(now // spec.every)
                if last.get(spec.job) is None:
                    last[spec.job] = slot  # the first slot starts after startup, not at it
                    continue
                if slot <= last[spec.job]:
                    continue
                last[spec.job] = slot
                try:
                    if await self._claim_slot(spec.job, slot, spec.every * 2):
                        await self.enqueue(spec.job, spec.payload)
                except Exception:
                    log.exception("jobs_schedule_failed", job=spec.job)
            await asyncio.sleep(min(1.0, self.options.poll_seconds))

    # deferring to commit -----------------------------------------------------------------------

    def _defer_after_commit(self, session: AsyncSession, jobs: list[Job]) -> None:
        task = asyncio.ensure_future(self.push_many(jobs))
        self._inflight.add(task)
        task.add_done_callback(self._inflight_done)

    def _inflight_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("jobs_deferred_enqueue_failed", error=str(task.exception()))


class MemoryJobQueue(JobQueue):
    """Embedded queue: a heap ordered by run time, consumed by tasks of this process."""

    backend = "memory"

    def __init__(self, *, options: QueueOptions | None = None, jobs: JobRegistry | None = None):
        super().__init__(options=options, jobs=jobs)
        self._heap: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._dead: dict[str, Job] = {}
        self._slots: dict[str, int] = {}
        self._wake = asyncio.Event()

    async def _push(self, jobs: list[Job]) -> None:
        for job in jobs:
            heapq.heappush(self._heap, (job.run_at, next(self._seq), job))
        self._wake.set()

    async def _bury(self, job: Job) -> None:
        self._dead[job.id] = job

    async def _done(self, job: Job, raw: Any) -> None:
        return None

    def _wake_consumers(self) -> None:
        self._wake.set()

    async def _take(self) -> tuple[Job, Any] | None:
        while not self._rt.stopping:
            now = time.time()
            if self._heap and self._heap[0][0] <= now:
                return heapq.heappop(self._heap)[2], None
            timeout = self._heap[0][0] - now if self._heap else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        return None

    async def _claim_slot(self, name: str, slot: int, ttl: float) -> bool:
        if self._slots.get(name, -1) >= slot:
            return False
        self._slots[name] = slot
        return True

    async def list_dead(self, *, limit: int, before: str | None = None) -> list[Job]:
        ids = sorted(self._dead, key=int, reverse=True)
        if before is not None:
            ids = [i for i in ids if int(i) < int(before)]
        return [self._dead[i] for i in ids[:limit]]

    async def get_dead(self, job_id: str) -> Job | None:
        return self._dead.get(job_id)

    async def discard(self, job_id: str) -> bool:
        return self._dead.pop(job_id, None) is not None

    async def _pop_dead(self, job_id: str) -> Job | None:
        return self._dead.pop(job_id, None)

    async def counts(self) -> dict[str, int]:
        now = time.time()
        due = sum(1 for at, _, _ in self._heap if at <= now)
        return {
            "ready": due,
            "delayed": len(self._heap) - due,
            "running": self._rt.running,
            "dead": len(self._dead),
        }

    async def _pending_now(self) -> int:
        now = time.time()
        return sum(1 for at, _, _ in self._heap if at <= now)


# Move due delayed jobs to the ready list atomically, so two workers never both promote one.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('LPUSH', KEYS[2], raw)
end
return #due
"""


def _dead_member(job_id: str) -> str:
    return job_id.zfill(20)  # lexicographic order of zero-padded ids is numeric order


class RedisJobQueue(JobQueue):
    """Cluster queue in Redis under `<namespace>:jobs:`; consumed by `townsquare worker`."""

    backend = "redis"
    HEARTBEAT_SECONDS = 5.0
    WORKER_TTL_SECONDS = 30.0

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        options: QueueOptions | None = None,
        jobs: JobRegistry | None = None,
    ) -> None:
        from redis import asyncio as aioredis

        super().__init__(options=options, jobs=jobs)
        self._redis = aioredis.from_url(url)
        self._p = f"{namespace}:jobs:"
        self.worker_id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._promote = self._redis.register_script(_PROMOTE)

    @property
    def ready_key(self) -> str:
        return self._p + "ready"

    @property
    def delayed_key(self) -> str:
        return self._p + "delayed"

    def _processing(self, worker: str) -> str:
        return self._p + "processing:" + worker

    async def _push(self, jobs: list[Job]) -> None:
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        for job in jobs:
            if job.run_at <= now:
                pipe.lpush(self.ready_key, job.dumps())
            else:
                pipe.zadd(self.delayed_key, {job.dumps(): job.run_at})
        await pipe.execute()

    async def _bury(self, job: Job) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._p + "dead", job.id, job.dumps())
        pipe.zadd(self._p + "dead:ids", {_dead_member(job.id): 0})
        await pipe.execute()

    async def _done(self, job: Job, raw: Any) -> None:
        if raw is not None:
            await self._redis.lrem(self._processing(self.worker_id), 1, raw)

    async def _take(self) -> tuple[Job, Any] | None:
        raw = await self._redis.blmove(
            self.ready_key,
            self._processing(self.worker_id),
            max(1, round(self.options.poll_seconds)),  # whole seconds: any Redis, any client
            "RIGHT",
            "LEFT",
        )
        if raw is None:
            return None
        try:
            return Job.loads(raw), raw
        except (ValueError, TypeError):
            log.error("job_unreadable", raw=str(raw)[:200])
            await self._redis.lrem(self._processing(self.worker_id), 1, cast(str, raw))
            return None

    def _spawn_extra(self) -> None:
        self._spawn(self._promote_loop(), "jobs-promoter")
        self._spawn(self._heartbeat_loop(), "jobs-heartbeat")

    async def _promote_loop(self) -> None:
        while True:
            try:
                moved = await self._promote(
                    keys=[self.delayed_key, self.ready_key], args=[time.time(), 500]
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("jobs_promote_failed")
                moved = 0
            if not moved:
                await asyncio.sleep(min(self.options.poll_seconds, 0.2))

    async def _heartbeat_loop(self) -> None:
        """Say this worker is alive; give the processing lists of silent workers back."""
        workers = self._p + "workers"
        while True:
            try:
                now = time.time()
                await self._redis.zadd(workers, {self.worker_id: now + self.WORKER_TTL_SECONDS})
                for raw_id in await self._redis.zrangebyscore(workers, "-inf", now):
                    worker = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    await self._requeue_from(worker)
                    await self._redis.zrem(workers, worker)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("jobs_heartbeat_failed")
            await asyncio.sleep(self.HEARTBEAT_SECONDS)

    async def _requeue_from(self, worker: str) -> int:
        moved = 0
        while await self._redis.lmove(self._processing(worker), self.ready_key, "RIGHT", "LEFT"):
            moved += 1
        if moved:
            log.warning("jobs_requeued_from_silent_worker", worker=worker, jobs=moved)
        return moved

    async def close(self, grace: float = 10.0) -> None:
        await super().close(grace)
        with contextlib.suppress(Exception):
            await self._requeue_from(self.worker_id)  # cut-short jobs go back for the next worker
            await self._redis.zrem(self._p + "workers", self.worker_id)
        await self._redis.aclose()

    async def _claim_slot(self, name: str, slot: int, ttl: float) -> bool:
        key = f"{self._p}slot:{name}:{slot}"
        return bool(await self._redis.set(key, self.worker_id, nx=True, ex=max(1, int(ttl))))

    async def list_dead(self, *, limit: int, before: str | None = None) -> list[Job]:
        top = "(" + _dead_member(before) if before is not None else "+"
        members = await self._redis.zrevrangebylex(self._p + "dead:ids", top, "-", 0, limit)
        if not members:
            return []
        ids = [str(int(m)) for m in members]
        raws = await self._redis.hmget(self._p + "dead", ids)
        return [Job.loads(raw) for raw in raws if raw is not None]

    async def get_dead(self, job_id: str) -> Job | None:
        raw = await self._redis.hget(self._p + "dead", job_id)
        return None if raw is None else Job.loads(raw)

    async def discard(self, job_id: str) -> bool:
        return await self._pop_dead(job_id) is not None

    async def _pop_dead(self, job_id: str) -> Job | None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hget(self._p + "dead", job_id)
        pipe.hdel(self._p + "dead", job_id)
        pipe.zrem(self._p + "dead:ids", _dead_member(job_id))
        raw, _, _ = await pipe.execute()
        return None if raw is None else Job.loads(raw)

    async def counts(self) -> dict[str, int]:
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        pipe.llen(self.ready_key)
        pipe.zcount(self.delayed_key, "-inf", now)
        pipe.zcard(self.delayed_key)
        pipe.hlen(self._p + "dead")
        ready, due, delayed, dead = await pipe.execute()
        return {
            "ready": int(ready) + int(due),
            "delayed": int(delayed) - int(due),
            "running": self._rt.running,
            "dead": int(dead),
        }

    async def _pending_now(self) -> int:
        pipe = self._redis.pipeline(transaction=False)
        pipe.llen(self.ready_key)
        pipe.zcount(self.delayed_key, "-inf", time.time())
        pipe.llen(self._processing(self.worker_id))
        ready, due, processing = await pipe.execute()
        return int(ready) + int(due) + int(processing)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False


def make_queue(
    redis_url: str | None, *, namespace: str, options: QueueOptions | None = None
) -> JobQueue:
    """Redis when a URL is configured, else the in-memory queue."""
    if redis_url:
        return RedisJobQueue(redis_url, namespace=namespace, options=options)
    return MemoryJobQueue(options=options)


# enqueue after commit ----------------------------------------------------------------------------

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
