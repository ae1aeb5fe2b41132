"""What both job queues share: the registry, the job record, retries, running and schedules."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.ids import new_id

if TYPE_CHECKING:
    from townsquare.context import AppContext

log = structlog.get_logger(__name__)

JobFn = Callable[["AppContext", dict[str, Any]], Awaitable[None]]


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
