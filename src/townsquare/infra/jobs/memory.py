"""The embedded job queue: in this process's memory, lost on restart (the data is not)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Any

from townsquare.infra.jobs.base import Job, JobQueue, JobRegistry, QueueOptions


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
