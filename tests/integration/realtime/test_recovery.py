"""No lost events: per-user offsets, history replay on reconnect, `recovery:failed`, idempotency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from tests.helpers.accounts import Member
from tests.helpers.gateway import WAIT, GatewayFactory, JsFactory, until
from townsquare.core.events import user_room
from townsquare.realtime import Gateway


async def _stream(gw: Gateway, room: str, count: int, started: asyncio.Event) -> None:
    for n in range(count):
        await gw.ctx.bus.publish(room, "notification:new", {"n": n})
        if n == 20:
            started.set()
        await asyncio.sleep(0.003)


@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]])
async def test_js_kill_connection_mid_stream_loses_and_doubles_nothing(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory, transports: list[str]
) -> None:
    gw, url = gateway
    room = user_room(int(member.id))
    total = 300
    async with js_client(
        url, auth={"token": member.access_token}, transports=transports, trackOffset=True
    ) as js:
        await js.expect_type("connect")
        started = asyncio.Event()
        producer = asyncio.create_task(_stream(gw, room, total, started))
        await asyncio.wait_for(started.wait(), WAIT)
        await js.expect_event("notification:new")
        await js.send("drop")
        await js.expect_type("disconnect")
        await js.expect_type("connect")
        await asyncio.wait_for(producer, WAIT * 2)
        await js.expect(lambda o: o["type"] == "event" and o["args"][0] == {"n": total - 1})
        got = [o["args"][0]["n"] for o in js.seen if o.get("event") == "notification:new"]
        assert got == list(range(total))
        offsets = [o["args"][1]["offset"] for o in js.seen if o.get("event") == "notification:new"]
        assert len(set(offsets)) == total


async def test_stale_offset_gets_recovery_failed(
    start_gateway: GatewayFactory, member: Member, js_client: JsFactory
) -> None:
    gw, url = await start_gateway()
    room = user_room(int(member.id))
    first = await gw.ctx.bus.publish(room, "notification:new", {"n": 0})
    assert first is not None
    # push the first event out of the window (500 events by default)
    await gw.ctx.bus.publish_many([(room, "notification:new", {"n": n}) for n in range(1, 700)])
    async with js_client(
        url, auth={"token": member.access_token, "last_offset": first}, transports=["websocket"]
    ) as js:
        await js.expect_type("connect")
        failed = await js.expect_event("recovery:failed")
        assert failed["args"] == [{"last_offset": first}]
        await gw.ctx.bus.publish(room, "notification:new", {"n": "live"})
        live = await js.expect_event("notification:new")
        assert live["args"][0] == {"n": "live"}
    replayed = [o for o in js.seen if o.get("event") == "notification:new"]
    assert len(replayed) == 1


async def test_garbage_offset_gets_recovery_failed(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    _, url = gateway
    async with js_client(
        url,
        auth={"token": member.access_token, "last_offset": "yesterday"},
        transports=["websocket"],
    ) as js:
        await js.expect_type("connect")
        assert (await js.expect_event("recovery:failed"))["args"][0]["last_offset"] == "yesterday"


async def test_no_offset_means_live_only(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    room = user_room(int(member.id))
    await gw.ctx.bus.publish(room, "notification:new", {"n": "old"})
    async with js_client(url, auth={"token": member.access_token}, transports=["websocket"]) as js:
        await js.expect_type("connect")
        await gw.ctx.bus.publish(room, "notification:new", {"n": "new"})
        got = await js.expect_event("notification:new")
        assert got["args"][0] == {"n": "new"}
    assert not any(o.get("args", [None])[0] == {"n": "old"} for o in js.seen)


async def test_python_client_reconnects_and_recovers(
    gateway: tuple[Gateway, str], member: Member
) -> None:
    gw, url = gateway
    room = user_room(int(member.id))
    received: list[int] = []
    auth: dict[str, Any] = {"token": member.access_token}
    done = asyncio.Event()
    connects = 0
    reconnected = asyncio.Event()
    sio = socketio.AsyncClient(reconnection_delay=0.1, reconnection_delay_max=0.2)

    @sio.on("notification:new", namespace="/realtime")
    async def on_note(data: dict[str, Any], meta: dict[str, str]) -> None:
        received.append(data["n"])
        auth["last_offset"] = meta["offset"]
        if data["n"] == 99:
            done.set()

    @sio.on("connect", namespace="/realtime")
    async def on_connect() -> None:
        nonlocal connects
        connects += 1
        if connects == 2:
            reconnected.set()

    await sio.connect(url, namespaces=["/realtime"], auth=lambda: dict(auth), wait_timeout=WAIT)
    try:
        for n in range(50):
            await gw.ctx.bus.publish(room, "notification:new", {"n": n})
        await until(lambda: len(received) >= 50)
        # drop the server side of the connection abruptly
        for conn in list(gw.sessions.values()):
            assert conn.ws is not None and conn.ws.transport is not None
            conn.ws.transport.abort()
        for n in range(50, 100):
            await gw.ctx.bus.publish(room, "notification:new", {"n": n})
        await asyncio.wait_for(reconnected.wait(), WAIT)
        await asyncio.wait_for(done.wait(), WAIT)
        assert received == list(range(100))
    finally:
        await sio.disconnect()


async def test_retried_send_with_client_id_is_applied_once(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    async with js_client(url, auth={"token": member.access_token}, transports=["websocket"]) as js:
        await js.expect_type("connect")
        first = await js.emit("test:apply", {"client_id": "c-1", "text": "hi"})
        again = await js.emit("test:apply", {"client_id": "c-1", "text": "hi"})
        other = await js.emit("test:apply", {"client_id": "c-2", "text": "hi"})
    assert first == again == {"ok": True, "data": {"applied": 1}}
    assert other == {"ok": True, "data": {"applied": 2}}
    assert len(gw.registry.applied) == 2  # type: ignore[attr-defined]


async def test_retry_after_reconnect_is_acked_with_the_original_result(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    async with js_client(url, auth={"token": member.access_token}, transports=["websocket"]) as js:
        await js.expect_type("connect")
        first = await js.emit("test:apply", {"client_id": "retry-1", "text": "once"})
        await js.send("drop")
        await js.expect_type("disconnect")
        await js.expect_type("connect")
        again = await js.emit("test:apply", {"client_id": "retry-1", "text": "once"})
    assert first == again == {"ok": True, "data": {"applied": 1}}
    assert len(gw.registry.applied) == 1  # type: ignore[attr-defined]


async def test_emits_without_ack_from_both_clients(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    applied = gw.registry.applied  # type: ignore[attr-defined]
    async with js_client(url, auth={"token": member.access_token}) as js:
        await js.expect_type("connect")
        ident = await js.send("emit", event="test:apply", args=[{"from": "js"}], ack=False)
        await js.expect(lambda o: o.get("id") == ident)
        await until(lambda: len(applied) == 1)
        # an unknown event without an ack is reported as an `error` event
        await js.send("emit", event="nope:nothing", args=[{}], ack=False)
        error = await js.expect_event("error")
        assert error["args"][0]["code"] == "unknown_event"
    sio = socketio.AsyncClient()
    await sio.connect(url, namespaces=["/realtime"], auth={"token": member.access_token})
    try:
        await sio.emit("test:apply", {"from": "python"}, namespace="/realtime")
        await until(lambda: len(applied) == 2)
    finally:
        await sio.disconnect()
    assert [a["from"] for a in applied] == ["js", "python"]


async def test_lost_redis_subscription_is_resynced_from_the_streams(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    bus: Any = gw.ctx.bus
    if not gw.ctx.settings.redis_url:  # with Redis configured, `bus.redis` must exist
        pytest.skip("the subscription connection exists with Redis only")
    room = user_room(int(member.id))
    async with js_client(url, auth={"token": member.access_token}, transports=["websocket"]) as js:
        await js.expect_type("connect")
        await bus.publish(room, "notification:new", {"n": 0})
        await js.expect_event("notification:new")
        # kill this gateway's pub/sub connection only (other tests share the server)
        clients = await bus.redis.client_list(_type="pubsub")
        ours = [c for c in clients if c.get("name") == bus.client_name]
        assert ours
        for c in ours:
            await bus.redis.client_kill_filter(_id=c["id"])
        for n in range(1, 6):  # published while nobody here is subscribed
            await bus.publish(room, "notification:new", {"n": n})
        await js.expect(lambda o: o.get("event") == "notification:new" and o["args"][0]["n"] == 5)
        await bus.publish(room, "notification:new", {"n": 6})
        await js.expect(lambda o: o.get("event") == "notification:new" and o["args"][0]["n"] == 6)
    got = [o["args"][0]["n"] for o in js.seen if o.get("event") == "notification:new"]
    assert got == list(range(7))


async def test_offset_from_the_future_is_refused_not_trusted(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    future = "99999999999999-0"
    async with js_client(
        url, auth={"token": member.access_token, "last_offset": future}, transports=["websocket"]
    ) as js:
        await js.expect_type("connect")
        assert (await js.expect_event("recovery:failed"))["args"][0]["last_offset"] == future
        await gw.ctx.bus.publish(user_room(int(member.id)), "notification:new", {"n": "live"})
        assert (await js.expect_event("notification:new"))["args"][0] == {"n": "live"}
