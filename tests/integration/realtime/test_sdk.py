"""The Python SDK against the app and a gateway that goes away and comes back."""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.helpers.accounts import PASSWORD, Member
from tests.helpers.gateway import make_registry, until
from townsquare.client import ApiError, RealtimeClient, TownsquareClient
from townsquare.context import AppContext
from townsquare.core.events import user_room
from townsquare.realtime import Gateway


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sdk_queues_offline_sends_and_recovers_missed_events(
    client: httpx.AsyncClient, ctx: AppContext, member: Member
) -> None:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    registry = make_registry()

    async def start() -> Gateway:
        gw = Gateway(ctx, registry=registry, metrics_registry=CollectorRegistry(), freeze_gc=False)
        await gw.start("127.0.0.1", port)
        return gw

    gw = await start()
    ts = TownsquareClient("http://testserver", gateway_url=url, http=client)
    await ts.login(member.username, PASSWORD)
    states: list[str] = []
    got: list[int] = []
    rt = RealtimeClient(
        url,
        token=ts.token,
        refresh=ts.refresh,
        on_state=lambda state, info: states.append(state),
        backoff_base=0.05,
        backoff_cap=0.2,
        rng=random.Random(5),
    )
    rt.on("notification:new", lambda data: got.append(data["n"]))
    room = user_room(int(member.id))
    try:
        await rt.connect()
        assert (await rt.emit("test:echo", "hello")) == "hello"
        for n in range(5):
            await ctx.bus.publish(room, "notification:new", {"n": n})
        await until(lambda: len(got) == 5)

        await gw.stop()  # the gateway goes away
        await until(lambda: rt.state == "reconnecting")
        send = asyncio.ensure_future(rt.emit("test:apply", {"text": "sent while offline"}))
        for n in range(5, 10):
            await ctx.bus.publish(room, "notification:new", {"n": n})
        gw = await start()  # and comes back on the same port

        assert (await asyncio.wait_for(send, 10)) == {"applied": 1}
        await until(lambda: len(got) == 10)
        assert got == list(range(10))
        assert registry.applied == [  # type: ignore[attr-defined]
            {"text": "sent while offline", "client_id": registry.applied[0]["client_id"]}  # type: ignore[attr-defined]
        ]
        assert states[:2] == ["connecting", "connected"]
        assert "reconnecting" in states
        assert states[-1] == "connected"
    finally:
        await rt.close()
        await gw.stop()


async def test_sdk_refusals_raise_api_errors(
    client: httpx.AsyncClient, gateway: tuple[Gateway, str], member: Member
) -> None:
    _, url = gateway
    ts = TownsquareClient("http://testserver", gateway_url=url, http=client)
    with pytest.raises(ApiError) as refused:
        await ts.login(member.username, "wrong-password-123")
    assert refused.value.status == 401
    await ts.login(member.username, PASSWORD)
    rt = ts.realtime()
    try:
        await rt.connect()
        with pytest.raises(ApiError) as unknown:
            await rt.emit("no:such_event", {"x": 1})
        assert unknown.value.code == "unknown_event"
        me: Any = await ts.request("GET", "/api/v1/realtime/presence/me")
        assert me["status"] in ("online", "idle")
    finally:
        await rt.close()


async def test_sdk_gives_up_on_a_bad_token(gateway: tuple[Gateway, str]) -> None:
    _, url = gateway

    async def bad_token() -> str:
        return "not-a-token"

    rt = RealtimeClient(url, token=bad_token)
    try:
        with pytest.raises(ApiError) as refused:
            await rt.connect()
        assert refused.value.code == "token_invalid"
    finally:
        await rt.close()
