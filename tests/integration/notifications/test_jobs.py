"""The job system on both queues: retries with backoff, dead letters, replay, schedules, workers."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from tests.helpers.accounts import make_admin, register
from tests.helpers.app import app_ctx
from townsquare.config import Settings
from townsquare.context import AppContext
from townsquare.infra.jobs import (
    JobQueue,
    JobRegistry,
    MemoryJobQueue,
    Permanent,
    QueueOptions,
    RedisJobQueue,
    Reschedule,
    defer,
    registry,
)
from townsquare.server import run_worker

REDIS_URL = os.environ.get("TOWNSQUARE_TEST_REDIS_URL")
FAST = QueueOptions(
    concurrency=2, retry_base_seconds=0.05, retry_max_seconds=0.2, poll_seconds=0.05
)
WAIT = 10.0


class Recorder:
    """Job functions of a private registry that record calls and fail on demand."""

    def __init__(self) -> None:
        self.registry = JobRegistry()
        self.calls: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self.fail_first: dict[str, int] = {}
        for name in ("flaky", "always_fails", "permanent", "waits", "tick"):
            self.registry.job(f"test.{name}", max_attempts=3)(self._fn(name))

    def _fn(self, name: str) -> Any:
        async def fn(ctx: Any, payload: dict[str, Any]) -> None:
            calls = self.calls.setdefault(name, [])
            calls.append((time.monotonic(), payload))
            if name == "always_fails":
                raise RuntimeError("boom")
            if name == "permanent":
                raise Permanent("never works")
            if name == "waits" and payload.get("rounds", 0) < 2:
                raise Reschedule(time.time() + 0.05, {"rounds": payload.get("rounds", 0) + 1})
            if len(calls) <= self.fail_first.get(name, 0):
                raise RuntimeError(f"failure {len(calls)}")

        return fn


async def until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)


@pytest.fixture(params=["memory", "redis"])
async def queue_and_jobs(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[JobQueue, Recorder]]:
    if request.param == "redis" and not REDIS_URL:
        pytest.skip("TOWNSQUARE_TEST_REDIS_URL is not set")
    rec = Recorder()
    queue: JobQueue
    if request.param == "redis":
        assert REDIS_URL is not None
        queue = RedisJobQueue(
            REDIS_URL, namespace=f"ts-test-{secrets.token_hex(6)}", options=FAST, jobs=rec.registry
        )
    else:
        queue = MemoryJobQueue(options=FAST, jobs=rec.registry)
    await queue.start(cast(AppContext, object()), consume=True, schedule=True)
    yield queue, rec
    await queue.close()


async def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(queue_and_jobs):
    queue, rec = queue_and_jobs
    rec.fail_first["flaky"] = 2
    await queue.enqueue("test.flaky", {"n": 1})
    await until(lambda: len(rec.calls.get("flaky", [])) == 3)
    times = [t for t, _ in rec.calls["flaky"]]
    # backoff doubles: ~0.05 s then ~0.1 s (±20 % jitter)
    assert times[1] - times[0] >= 0.04
    assert times[2] - times[1] >= 0.08
    await queue.idle()
    assert (await queue.counts())["dead"] == 0
    assert all(p == {"n": 1} for _, p in rec.calls["flaky"])


async def test_exhausted_jobs_become_dead_letters_that_can_be_replayed(queue_and_jobs):
    queue, rec = queue_and_jobs
    job_id = await queue.enqueue("test.always_fails", {"x": "y"})
    await until(lambda: len(rec.calls.get("always_fails", [])) == 3)
    await queue.idle()
    dead = await queue.list_dead(limit=10)
    assert [j.id for j in dead] == [job_id]
    assert dead[0].attempts == 3
    assert dead[0].last_error == "RuntimeError: boom"
    assert dead[0].payload == {"x": "y"}
    assert (await queue.counts())["dead"] == 1
    # replay: a fresh set of attempts
    assert await queue.replay(job_id) is True
    assert await queue.replay(job_id) is False
    await until(lambda: len(rec.calls["always_fails"]) == 6)
    await queue.idle()
    again = await queue.get_dead(job_id)
    assert again is not None and again.attempts == 3
    assert await queue.discard(job_id) is True
    assert await queue.get_dead(job_id) is None
    assert await queue.discard(job_id) is False


async def test_dead_letters_page_newest_first(queue_and_jobs):
    queue, rec = queue_and_jobs
    ids = [await queue.enqueue("test.permanent", {"i": i}) for i in range(3)]
    await until(lambda: len(rec.calls.get("permanent", [])) == 3)
    await queue.idle()
    first = await queue.list_dead(limit=2)
    assert [j.id for j in first] == [ids[2], ids[1]]
    rest = await queue.list_dead(limit=2, before=first[-1].id)
    assert [j.id for j in rest] == [ids[0]]
    assert all(j.attempts == 1 for j in first + rest)  # Permanent: no retries


async def test_reschedule_does_not_spend_attempts(queue_and_jobs):
    queue, rec = queue_and_jobs
    await queue.enqueue("test.waits", {"rounds": 0})
    await until(lambda: len(rec.calls.get("waits", [])) == 3)
    await queue.idle()
    assert [p["rounds"] for _, p in rec.calls["waits"]] == [0, 1, 2]
    assert (await queue.counts())["dead"] == 0


async def test_delayed_jobs_wait(queue_and_jobs):
    queue, rec = queue_and_jobs
    start = time.monotonic()
    await queue.enqueue("test.flaky", {}, delay=0.3)
    counts = await queue.counts()
    assert counts["delayed"] == 1
    await until(lambda: rec.calls.get("flaky"))
    assert rec.calls["flaky"][0][0] - start >= 0.25


async def test_unknown_jobs_are_refused_at_enqueue(queue_and_jobs):
    queue, _ = queue_and_jobs
    with pytest.raises(ValueError, match="unknown job"):
        await queue.enqueue("test.nope", {})


async def test_a_schedule_fires_once_per_slot_across_schedulers() -> None:
    """Two schedulers sharing one store (two workers) enqueue each slot once."""
    rec = Recorder()
    rec.registry.every(0.2, "test.tick")
    namespace = f"ts-test-{secrets.token_hex(6)}"
    queues: list[JobQueue] = []
    for _ in range(2):
        if REDIS_URL:
            queues.append(
                RedisJobQueue(REDIS_URL, namespace=namespace, options=FAST, jobs=rec.registry)
            )
        else:
            queues.append(MemoryJobQueue(options=FAST, jobs=rec.registry))
    shared = queues[0]
    await shared.start(cast(AppContext, object()), consume=True, schedule=True)
    if REDIS_URL:  # the second scheduler competes for the same slots
        await queues[1].start(cast(AppContext, object()), consume=False, schedule=True)
    try:
        await asyncio.sleep(1.3)
        ticks = len(rec.calls.get("tick", []))
    finally:
        for q in queues:
            await q.close()
    # slots of 0.2 s over ~1.3 s: at most 7 boundaries; one run per scheduler would be ~12
    assert 4 <= ticks <= 7, ticks


@pytest.mark.skipif(not REDIS_URL, reason="TOWNSQUARE_TEST_REDIS_URL is not set")
async def test_jobs_of_a_silent_worker_go_back_to_the_queue() -> None:
    rec = Recorder()
    namespace = f"ts-test-{secrets.token_hex(6)}"
    assert REDIS_URL is not None
    crashed = RedisJobQueue(REDIS_URL, namespace=namespace, options=FAST, jobs=rec.registry)
    job = crashed.make("test.flaky", {"from": "crashed"})
    # a worker took the job into its processing list, heartbeated once, and died
    await crashed._redis.lpush(crashed._processing(crashed.worker_id), job.dumps())
    await crashed._redis.zadd(crashed._p + "workers", {crashed.worker_id: time.time() - 1})
    survivor = RedisJobQueue(REDIS_URL, namespace=namespace, options=FAST, jobs=rec.registry)
    await survivor.start(cast(AppContext, object()), consume=True, schedule=False)
    try:
        await until(lambda: rec.calls.get("flaky"))
        assert rec.calls["flaky"][0][1] == {"from": "crashed"}
    finally:
        await survivor.close()
        await crashed._redis.aclose()


# through the application -------------------------------------------------------------------------

APP_CALLS: list[dict[str, Any]] = []
if "test.app_job" not in registry.specs:

    @registry.job("test.app_job", max_attempts=2)
    async def _app_job(ctx: AppContext, payload: dict[str, Any]) -> None:
        APP_CALLS.append(payload)
        if payload.get("fail"):
            raise RuntimeError("asked to fail")


FAST_APP = {
    "jobs_retry_base_seconds": 0.05,
    "jobs_poll_seconds": 0.05,
    "jobs_run_inline": True,
}


async def test_defer_enqueues_after_commit_and_never_after_rollback(make_client):
    async with make_client(**FAST_APP) as client:
        ctx = app_ctx(client)
        tag = secrets.token_hex(4)

        async def rolled_back() -> None:
            async with ctx.db.transaction() as session:
                defer(session, "test.app_job", {"tag": tag, "kind": "rolled-back"})
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError, match="rolled back"):
            await rolled_back()
        async with ctx.db.transaction() as session:
            defer(session, "test.app_job", {"tag": tag, "kind": "committed"})
            assert not [c for c in APP_CALLS if c.get("tag") == tag]  # not before commit
        await ctx.jobs.idle()
        assert [c["kind"] for c in APP_CALLS if c.get("tag") == tag] == ["committed"]


async def test_admins_list_replay_and_discard_dead_jobs(make_client):
    async with make_client(**FAST_APP) as client:
        ctx = app_ctx(client)
        admin = await make_admin(client)
        member = await register(client)
        tag = secrets.token_hex(4)
        job_id = await ctx.jobs.enqueue("test.app_job", {"tag": tag, "fail": True})
        await until(lambda: len([c for c in APP_CALLS if c.get("tag") == tag]) == 2)
        await ctx.jobs.idle()

        refused = await client.get("/api/v1/admin/jobs/dead", headers=member.headers)
        assert refused.status_code == 403
        state = (await client.get("/api/v1/admin/jobs", headers=admin.headers)).json()
        assert state["dead"] == 1 and state["consuming_here"] is True
        assert "test.app_job" in state["jobs"]
        page = (await client.get("/api/v1/admin/jobs/dead", headers=admin.headers)).json()
        assert [j["id"] for j in page["items"]] == [job_id]
        assert page["items"][0]["last_error"] == "RuntimeError: asked to fail"
        assert page["items"][0]["attempts"] == 2
        metrics = (await client.get("/metrics")).text
        assert 'townsquare_jobs_total{job="test.app_job",outcome="retry"} 1.0' in metrics
        assert 'townsquare_jobs_total{job="test.app_job",outcome="dead"} 1.0' in metrics
        one = await client.get(f"/api/v1/admin/jobs/dead/{job_id}", headers=admin.headers)
        assert one.json()["payload"] == {"tag": tag, "fail": True}

        replay = await client.post(
            f"/api/v1/admin/jobs/dead/{job_id}/replay", headers=admin.headers
        )
        assert replay.status_code == 202
        await until(lambda: len([c for c in APP_CALLS if c.get("tag") == tag]) == 4)
        await ctx.jobs.idle()
        gone = await client.delete(f"/api/v1/admin/jobs/dead/{job_id}", headers=admin.headers)
        assert gone.status_code == 204
        missing = await client.post(
            f"/api/v1/admin/jobs/dead/{job_id}/replay", headers=admin.headers
        )
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"


async def test_cluster_api_only_queues_and_the_worker_runs(
    backend: str, make_client, settings: Settings
) -> None:
    if backend != "cluster" or not settings.redis_url:
        pytest.skip("the separate worker is the cluster shape")
    async with make_client(jobs_poll_seconds=0.05) as client:
        ctx = app_ctx(client)
        assert ctx.jobs.consuming is False  # serve does not run jobs in cluster mode by default
        tag = secrets.token_hex(4)
        await ctx.jobs.enqueue("test.app_job", {"tag": tag})
        await asyncio.sleep(0.2)
        assert not [c for c in APP_CALLS if c.get("tag") == tag]
        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_worker(settings.model_copy(update={"jobs_poll_seconds": 0.05}), stop=stop)
        )
        try:
            await until(lambda: [c for c in APP_CALLS if c.get("tag") == tag])
        finally:
            stop.set()
            await asyncio.wait_for(worker, WAIT)


async def test_run_worker_refuses_embedded_mode(backend: str, settings: Settings) -> None:
    if backend != "embedded":
        pytest.skip("embedded only")
    with pytest.raises(RuntimeError, match="REDIS_URL"):
        await run_worker(settings)


async def test_queue_state_needs_an_admin(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/admin/jobs")).status_code == 401


def test_the_worker_command_needs_redis(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from townsquare.cli import app

    monkeypatch.chdir(tmp_path)  # no .env file here
    monkeypatch.delenv("TOWNSQUARE_REDIS_URL", raising=False)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "TOWNSQUARE_REDIS_URL" in result.output
