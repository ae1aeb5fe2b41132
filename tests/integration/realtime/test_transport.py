"""WebSocket framing edge cases, long-polling details and the gateway's own HTTP endpoints."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.helpers.accounts import Member
from tests.helpers.gateway import WAIT, GatewayFactory
from townsquare.realtime import Gateway

WS_PATH = "/socket.io/?EIO=4&transport=websocket"


async def test_fragmented_messages_and_pings(gateway: tuple[Gateway, str], member: Member) -> None:
    _, url = gateway
    async with connect(url.replace("http", "ws") + WS_PATH) as ws:
        assert (await ws.recv()).startswith("0{")
        await ws.send(["40/realtime,", json.dumps({"token": member.access_token})])  # 2 fragments
        assert (await ws.recv()).startswith("40/realtime,")
        pong = await ws.ping(b"hi")
        await asyncio.wait_for(pong, WAIT)
        await ws.send(["42/realtime,5", '["test:echo",', '"pieces"]'])
        while True:
            msg = await asyncio.wait_for(ws.recv(), WAIT)
            if isinstance(msg, str) and msg.startswith("43/realtime,5"):
                break
        assert json.loads(msg[len("43/realtime,5") :]) == [{"ok": True, "data": "pieces"}]


async def test_unmasked_client_frame_is_a_protocol_error(gateway: tuple[Gateway, str]) -> None:
    _, url = gateway
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {WS_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"\x81\x01x")  # text frame without a mask
    data = await asyncio.wait_for(reader.read(), WAIT)  # until the server closes
    assert b"\x88\x0b\x03\xea" in data  # close frame, code 1002
    writer.close()


async def test_oversized_frame_closes_with_1009(gateway: tuple[Gateway, str]) -> None:
    gw, url = gateway
    async with connect(url.replace("http", "ws") + WS_PATH, max_size=None) as ws:
        await ws.recv()
        await ws.send("4" + "x" * (gw.max_ws_message + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009


async def test_polling_session_rules(gateway: tuple[Gateway, str], member: Member) -> None:
    _, url = gateway
    async with httpx.AsyncClient(base_url=url) as http:
        opened = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        handshake = json.loads(opened.text[1:])
        assert handshake["upgrades"] == ["websocket"]
        assert handshake["maxPayload"] == 64 * 1024
        sid = handshake["sid"]
        q = {"EIO": "4", "transport": "polling", "sid": sid}
        auth = "40/realtime," + json.dumps({"token": member.access_token})
        assert (await http.post("/socket.io/", params=q, content=auth)).text == "ok"
        connected = (await http.get("/socket.io/", params=q)).text
        assert connected.startswith("40/realtime,")
        # two packets in one payload, separated by the record separator
        body = '42/realtime,1["test:echo",1]\x1e42/realtime,2["test:echo",2]'
        assert (await http.post("/socket.io/", params=q, content=body)).text == "ok"
        packets: list[str] = connected.split("\x1e")
        # wait for both acks and the presence announcement, so nothing else is in flight
        while not (
            sum(x.startswith("43") for x in packets) == 2
            and any("presence:friend_activity" in x for x in packets)
        ):
            packets += (await http.get("/socket.io/", params=q)).text.split("\x1e")
        replies = [x for x in packets if x.startswith("43")]
        assert replies == [
            '43/realtime,1[{"ok":true,"data":1}]',
            '43/realtime,2[{"ok":true,"data":2}]',
        ]
        # a second concurrent poll is a protocol error that ends the session
        first = asyncio.ensure_future(http.get("/socket.io/", params=q))
        await asyncio.sleep(0.05)
        second = await http.get("/socket.io/", params=q)
        assert second.status_code == 400
        await asyncio.wait_for(first, WAIT)
        gone = await http.get("/socket.io/", params=q)
        assert gone.json()["code"] == 1


async def test_metrics_and_health_on_the_gateway_port(
    gateway: tuple[Gateway, str], member: Member
) -> None:
    gw, url = gateway
    async with connect(url.replace("http", "ws") + WS_PATH) as ws:
        await ws.recv()
        await ws.send("40/realtime," + json.dumps({"token": member.access_token}))
        await ws.recv()
        async with httpx.AsyncClient(base_url=url) as http:
            text = (await http.get("/metrics")).text
            assert "townsquare_gateway_connections 1.0" in text
            assert (await http.get("/readyz")).status_code == 200
    assert await gw.ready()


async def test_session_that_never_connects_is_closed(start_gateway: GatewayFactory) -> None:
    _, url = await start_gateway(gateway_ping_interval_seconds=0.2)
    got: list[str] = []

    async def converse(ws: Any) -> None:
        while True:
            msg = await asyncio.wait_for(ws.recv(), WAIT)
            got.append(msg)
            if msg == "2":
                await ws.send("3")  # answer pings: this is not a ping timeout

    async with connect(url.replace("http", "ws") + WS_PATH) as ws:
        with pytest.raises(ConnectionClosed):
            await converse(ws)
    assert got[-1] == "1"  # the server closed the Engine.IO session itself
    assert "2" in got


async def test_connections_that_never_send_a_request_are_closed(
    start_gateway: GatewayFactory,
) -> None:
    _, url = await start_gateway(gateway_ping_interval_seconds=0.2)
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")  # no end
    assert await asyncio.wait_for(reader.read(), WAIT) == b""  # the server hung up
    writer.close()
