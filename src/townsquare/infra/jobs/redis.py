"""The cluster job queue in Redis: ready list, delayed set, processing lists, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from importlib import resources
from typing import Any, cast

import structlog

from townsquare.infra.jobs.base import Job, JobQueue, JobRegistry, QueueOptions

log = structlog.get_logger(__name__)

# Move due delayed jobs to the ready list atomically, so two workers never both promote one.
_PROMOTE = (resources.files("townsquare.infra.jobs") / "promote.lua").read_text(encoding="utf-8")


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
