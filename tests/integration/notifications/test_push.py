"""Web Push end to end: a local push service decrypts what the server sends; 404/410; retries;
preferences, presence and quiet hours decided when the job runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from tests.helpers.accounts import Member, register
from tests.helpers.app import app_ctx
from tests.helpers.notifications import FAST_JOBS, notify
from tests.integration.notifications.push_endpoint import (
    Browser,
    PushService,
    push_service,
    verify_vapid,
)
from townsquare.domains.notifications.actions import Target
from townsquare.domains.notifications.models import Notification, PushSubscription
from townsquare.domains.presence import actions as presence_actions

SUBS = "/api/v1/notifications/push/subscriptions"


@pytest.fixture
async def service() -> AsyncIterator[PushService]:
    async with push_service() as s:
        yield s


async def subscribe(client: httpx.AsyncClient, who: Member, browser: Browser, endpoint: str) -> str:
    reply = await client.post(SUBS, headers=who.headers, json=browser.subscription(endpoint))
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


async def until(condition: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.02)


async def test_push_is_encrypted_for_the_browser_and_signed_with_vapid(client, service):
    ana = await register(client)
    ben = await register(client, "bennett")
    browser = Browser()
    await subscribe(client, ana, browser, service.endpoint("ana"))
    key = (await client.get("/api/v1/notifications/push/public-key")).json()["public_key"]
    row = await notify(
        client, recipient_id=ana.id, type="comment", actor_id=ben.id, message="Lovely photo"
    )
    assert row is not None
    await app_ctx(client).jobs.idle()
    [got] = service.for_path("ana")
    assert got.headers["content-encoding"] == "aes128gcm"
    assert int(got.headers["ttl"]) > 0
    message = browser.decrypt(got.body)
    assert message["id"] == str(row.id)
    assert message["title"] == "bennett commented on your post"
    assert message["message"] == "Lovely photo"
    assert message["type"] == "comment" and message["category"] == "comments"
    claims = verify_vapid(got.headers, public_key=key, audience=service.url)
    assert claims["sub"] == "mailto:admin@localhost"
    async with app_ctx(client).db.read() as session:
        stored = await session.get(Notification, row.id)
        assert stored is not None and stored.push_sent_at is not None
        sub = (await session.execute(select(PushSubscription))).scalar_one()
        assert sub.last_success_at is not None


async def test_the_vapid_key_is_kept_across_restarts(make_client):
    async with make_client(**FAST_JOBS) as first:
        key = (await first.get("/api/v1/notifications/push/public-key")).json()["public_key"]
    async with make_client(**FAST_JOBS) as second:
        again = (await second.get("/api/v1/notifications/push/public-key")).json()["public_key"]
    assert key == again and len(key) == 87  # 65 bytes, base64url without padding


async def test_every_browser_of_the_user_gets_it_and_gone_ones_are_removed(client, service):
    ana = await register(client)
    ben = await register(client)
    laptop, phone, old = Browser(), Browser(), Browser()
    await subscribe(client, ana, laptop, service.endpoint("laptop"))
    await subscribe(client, ana, phone, service.endpoint("phone"))
    await subscribe(client, ana, old, service.endpoint("old"))
    service.status["/push/old"] = 410
    await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    await app_ctx(client).jobs.idle()
    assert laptop.decrypt(service.for_path("laptop")[0].body)["type"] == "comment"
    assert phone.decrypt(service.for_path("phone")[0].body)["type"] == "comment"
    listed = (await client.get(SUBS, headers=ana.headers)).json()
    assert sorted(s["endpoint"].rsplit("/", 1)[-1] for s in listed) == ["laptop", "phone"]
    # 404 counts as gone too
    service.status["/push/phone"] = 404
    await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    await app_ctx(client).jobs.idle()
    listed = (await client.get(SUBS, headers=ana.headers)).json()
    assert [s["endpoint"].rsplit("/", 1)[-1] for s in listed] == ["laptop"]
    assert (await app_ctx(client).jobs.counts())["dead"] == 0


async def test_a_failing_push_service_is_retried_with_backoff(client, service):
    ana = await register(client)
    ben = await register(client)
    browser = Browser()
    await subscribe(client, ana, browser, service.endpoint("flaky"))
    service.status["/push/flaky"] = 503
    await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    await until(lambda: len(service.for_path("flaky")) >= 2)
    service.status["/push/flaky"] = 201
    await until(lambda: any(r.status == 201 for r in service.for_path("flaky")))
    await app_ctx(client).jobs.idle()
    assert (await app_ctx(client).jobs.counts())["dead"] == 0
    sends = service.for_path("flaky")
    assert [r.status for r in sends][-1] == 201
    assert [r.status for r in sends].count(201) == 1  # delivered once, then never again
    assert browser.decrypt(sends[-1].body)["type"] == "comment"
    await asyncio.sleep(0.3)
    assert len(service.for_path("flaky")) == len(sends)


async def test_a_push_service_that_never_recovers_ends_in_dead_letters(make_client, service):
    async with make_client(**{**FAST_JOBS, "jobs_retry_max_seconds": 0.05}) as client:
        ana = await register(client)
        ben = await register(client)
        await subscribe(client, ana, Browser(), service.endpoint("down"))
        service.status["/push/down"] = 500
        row = await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
        assert row is not None
        await until(lambda: len(service.for_path("down")) == 6)
        await app_ctx(client).jobs.idle()
        [dead] = await app_ctx(client).jobs.list_dead(limit=5)
        assert dead.name == "notifications.deliver" and dead.attempts == 6
        assert dead.payload == {"ids": [row.id]}
        assert "500" in (dead.last_error or "")


async def test_preferences_are_read_when_the_job_runs(make_client, service):
    # a producer-only app: jobs wait in the queue until we start consuming
    async with make_client(**{**FAST_JOBS, "jobs_run_inline": False}) as client:
        ctx = app_ctx(client)
        ana = await register(client)
        ben = await register(client)
        await subscribe(client, ana, Browser(), service.endpoint("late"))
        await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
        await notify(client, recipient_id=ana.id, type="mention", actor_id=ben.id)
        # after queueing, before delivery: push off for comments
        reply = await client.put(
            "/api/v1/notifications/preferences",
            headers=ana.headers,
            json={"categories": {"comments": {"push": False}}},
        )
        assert reply.status_code == 200
        await ctx.jobs.start(ctx, consume=True, schedule=False)
        await ctx.jobs.idle()
        assert len(service.for_path("late")) == 1  # the mention only


async def test_no_push_while_the_user_is_online_unless_urgent(client, service):
    ana = await register(client)
    ben = await register(client)
    browser = Browser()
    await subscribe(client, ana, browser, service.endpoint("online"))
    await presence_actions.do_connect(
        app_ctx(client), user_id=int(ana.id), conn_key="test-connection"
    )
    try:
        await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
        await app_ctx(client).jobs.idle()
        assert service.for_path("online") == []  # they see it in the open client
        await notify(
            client, recipient_id=ana.id, type="comment", actor_id=ben.id, priority="urgent"
        )
        await app_ctx(client).jobs.idle()
        [got] = service.for_path("online")
        assert browser.decrypt(got.body)["priority"] == "urgent"
        assert got.headers["urgency"] == "high"
    finally:
        await presence_actions.do_disconnect(
            app_ctx(client), user_id=int(ana.id), conn_key="test-connection"
        )
    await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    await app_ctx(client).jobs.idle()
    assert len(service.for_path("online")) == 2  # offline again: pushed


def _quiet_hours_around_now(timezone: str) -> dict[str, str]:
    local = datetime.now(ZoneInfo(timezone))
    start = (local.hour - 1) % 24
    end = (local.hour + 2) % 24
    return {"start": f"{start:02d}:00", "end": f"{end:02d}:00"}


async def test_quiet_hours_hold_push_until_they_end_except_urgent(client, service):
    ana = await register(client)
    ben = await register(client)
    zone = "Asia/Kolkata"  # a half-hour offset: wall-clock maths must use the zone
    await client.patch(
        "/api/v1/users/me", headers=ana.headers, json={"notifications": {"timezone": zone}}
    )
    reply = await client.put(
        "/api/v1/notifications/preferences",
        headers=ana.headers,
        json={"quiet_hours": _quiet_hours_around_now(zone)},
    )
    assert reply.status_code == 200
    browser = Browser()
    await subscribe(client, ana, browser, service.endpoint("quiet"))
    ctx = app_ctx(client)
    await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    await ctx.jobs.idle()
    assert service.for_path("quiet") == []
    counts = await ctx.jobs.counts()
    assert counts["delayed"] == 1  # waiting for the end of quiet hours
    await notify(client, recipient_id=ana.id, type="message", actor_id=ben.id, priority="urgent")
    await ctx.jobs.idle()
    [urgent] = service.for_path("quiet")
    assert browser.decrypt(urgent.body)["type"] == "message"


async def test_subscriptions_are_validated_and_owned(client, service):
    ana = await register(client)
    eve = await register(client)
    browser = Browser()
    sub_id = await subscribe(client, ana, browser, service.endpoint("mine"))
    for bad in (
        {"endpoint": "ftp://x", "keys": {"p256dh": browser.p256dh, "auth": "A" * 22}},
        {"endpoint": service.endpoint("x"), "keys": {"p256dh": "short", "auth": "A" * 22}},
        {"endpoint": service.endpoint("x"), "keys": {"p256dh": browser.p256dh}},
        {"endpoint": service.endpoint("x")},
    ):
        reply = await client.post(SUBS, headers=ana.headers, json=bad)
        assert reply.status_code == 422, bad
    assert (await client.delete(f"{SUBS}/{sub_id}", headers=eve.headers)).status_code == 404
    assert (await client.delete(f"{SUBS}/{sub_id}", headers=ana.headers)).status_code == 204
    assert (await client.get(SUBS, headers=ana.headers)).json() == []
    # the same browser subscribing again replaces, never duplicates
    await subscribe(client, ana, browser, service.endpoint("mine"))
    await subscribe(client, eve, browser, service.endpoint("mine"))
    assert (await client.get(SUBS, headers=ana.headers)).json() == []
    assert len((await client.get(SUBS, headers=eve.headers)).json()) == 1


async def test_grouped_updates_do_not_push_again(client, service):
    ana = await register(client)
    fans = [await register(client) for _ in range(3)]
    await subscribe(client, ana, Browser(), service.endpoint("likes"))
    for fan in fans:
        await notify(
            client, recipient_id=ana.id, type="like", actor_id=fan.id, target=Target("post", 9)
        )
    await app_ctx(client).jobs.idle()
    assert len(service.for_path("likes")) == 1


async def test_plain_http_endpoints_are_refused_by_default(make_client):
    async with make_client(**{**FAST_JOBS, "push_https_only": True}) as client:
        ana = await register(client)
        browser = Browser()
        refused = await client.post(
            SUBS, headers=ana.headers, json=browser.subscription("http://127.0.0.1:9/push/x")
        )
        assert refused.status_code == 422
        assert refused.json()["code"] == "insecure_endpoint"
        fine = await client.post(
            SUBS, headers=ana.headers, json=browser.subscription("https://push.example/abc")
        )
        assert fine.status_code == 201


async def test_oversized_payloads_are_trimmed_to_fit_a_push(client, service):
    ana = await register(client)
    ben = await register(client)
    browser = Browser()
    await subscribe(client, ana, browser, service.endpoint("big"))
    await notify(
        client,
        recipient_id=ana.id,
        type="comment",
        actor_id=ben.id,
        message="m" * 1000,
        data={f"k{i}": "v" * 500 for i in range(10)},
    )
    await app_ctx(client).jobs.idle()
    [got] = service.for_path("big")
    message = browser.decrypt(got.body)
    assert message["data"] == {} and message["message"] == "m" * 300
