"""Rate limits, size limits, malformed input, binary attachments and slow consumers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.helpers.accounts import Member, login, register
from tests.helpers.gateway import WAIT, GatewayFactory, JsFactory, until
from townsquare.core.events import user_room
from townsquare.realtime import Gateway


class RawSocket:
    """A hand-driven Engine.IO WebSocket, for input no well-behaved client would send."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def recv(self) -> str | bytes:
        return await asyncio.wait_for(self.ws.recv(), WAIT)

    async def recv_until(self, prefix: str) -> str:
        while True:
            msg = await self.recv()
            if isinstance(msg, str) and msg.startswith(prefix):
                return msg

    async def event(self, name: str) -> Any:
        while True:
            msg = await self.recv_until("42/realtime,")
            body = json.loads(msg[len("42/realtime,") :])
            if body[0] == name:
                return body[1]

    async def ack(self, ack_id: int) -> Any:
        msg = await self.recv_until(f"43/realtime,{ack_id}[")
        return json.loads(msg[len(f"43/realtime,{ack_id}") :])[0]


async def raw_connect(url: str, token: str) -> RawSocket:
    ws = await connect(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", max_size=None
    )
    raw = RawSocket(ws)
    assert (await raw.recv_until("0{")).startswith("0{")
    await ws.send("40/realtime," + json.dumps({"token": token}))
    assert (await raw.recv_until("40/realtime,")).startswith('40/realtime,{"sid"')
    return raw


async def test_events_per_second_limit(start_gateway: GatewayFactory, member: Member) -> None:
    _, url = await start_gateway(gateway_events_per_second=5)
    raw = await raw_connect(url, member.access_token)
    for i in range(1, 8):
        await raw.ws.send(f'42/realtime,{i}["test:echo",{{"i":{i}}}]')
    replies = [await raw.ack(i) for i in range(1, 8)]
    assert [r["ok"] for r in replies] == [True] * 5 + [False] * 2
    assert replies[5]["error"]["code"] == "rate_limited"
    assert replies[5]["error"]["retry_after"] >= 1
    await raw.ws.close()


async def test_chat_messages_per_minute_limit(
    start_gateway: GatewayFactory, member: Member, js_client: JsFactory
) -> None:
    _, url = await start_gateway(gateway_chat_messages_per_minute=3)
    async with js_client(url, auth={"token": member.access_token}) as js:
        await js.expect_type("connect")
        replies = [await js.emit("test:chat", {"text": str(i)}) for i in range(4)]
        assert [r["ok"] for r in replies] == [True, True, True, False]
        assert replies[3]["error"]["code"] == "rate_limited"
        # other events are not affected by the chat rule
        assert (await js.emit("test:echo", 1))["ok"] is True


async def test_rooms_per_connection_limit(
    start_gateway: GatewayFactory, member: Member, js_client: JsFactory
) -> None:
    gw, url = await start_gateway(gateway_max_rooms_per_connection=3)
    async with js_client(url, auth={"token": member.access_token}) as js:
        await js.expect_type("connect")
        for i in range(3):
            assert (await js.emit("test:join", {"room": f"test:r{i}"}))["ok"] is True
        refused = await js.emit("test:join", {"room": "test:r3"})
        assert refused["error"]["code"] == "too_many_rooms"
        assert (await js.emit("test:leave", {"room": "test:r0"}))["ok"] is True
        assert (await js.emit("test:join", {"room": "test:r3"}))["ok"] is True
    assert "test:r0" not in gw.rooms


async def test_connections_per_user_limit(
    start_gateway: GatewayFactory, member: Member, js_client: JsFactory
) -> None:
    _, url = await start_gateway(gateway_max_connections_per_user=2)
    socks = [await raw_connect(url, member.access_token) for _ in range(2)]
    async with js_client(url, auth={"token": member.access_token}, reconnection=False) as js:
        err = await js.expect_type("connect_error")
        assert err["data"]["code"] == "too_many_connections"
    for raw in socks:
        await raw.ws.close()


async def test_oversized_event_gets_ack_error_and_changes_nothing(
    start_gateway: GatewayFactory, member: Member
) -> None:
    gw, url = await start_gateway(gateway_max_payload_bytes=1024)
    raw = await raw_connect(url, member.access_token)
    await raw.ws.send('42/realtime,7["test:apply",{"text":"' + "x" * 2000 + '"}]')
    reply = await raw.ack(7)
    assert reply["error"]["code"] == "payload_too_large"
    await raw.ws.send('42/realtime,8["test:echo","still here"]')
    assert (await raw.ack(8))["data"] == "still here"
    assert gw.registry.applied == []  # type: ignore[attr-defined]
    await raw.ws.close()


async def test_malformed_packets_get_errors_then_disconnect(
    gateway: tuple[Gateway, str], member: Member
) -> None:
    gw, url = gateway
    raw = await raw_connect(url, member.access_token)
    garbage = ["42/realtime,[", "42/realtime,{}", "9", "4x", '42/realtime,["a",NaN]', "4"]
    await raw.ws.send(garbage[0])
    assert (await raw.event("error"))["code"] == "malformed_packet"
    await raw.ws.send('42/realtime,1["test:apply",{"client_id":"x"}]')
    await raw.ws.send('42/realtime,2["test:echo",1,2]')
    assert (await raw.ack(2))["ok"] is True
    for junk in garbage * 2:
        await raw.ws.send(junk)
    await raw.recv_until("41/realtime,")  # the server ends the socket
    assert gw.sessions == {}


async def test_wrong_payload_type_is_validation_error(
    gateway: tuple[Gateway, str], member: Member
) -> None:
    _, url = gateway
    raw = await raw_connect(url, member.access_token)
    await raw.ws.send('42/realtime,3["presence:activity",{"activity":42}]')
    reply = await raw.ack(3)
    assert reply["error"]["code"] == "validation_failed"
    await raw.ws.send('42/realtime,4["presence:activity","text"]')
    assert (await raw.ack(4))["error"]["code"] == "validation_failed"
    await raw.ws.send('42/realtime,5["test:apply",{"client_id":["no"]}]')
    assert (await raw.ack(5))["error"]["code"] == "validation_failed"
    await raw.ws.close()


async def test_binary_attachments_are_refused(gateway: tuple[Gateway, str], member: Member) -> None:
    gw, url = gateway
    raw = await raw_connect(url, member.access_token)
    await raw.ws.send('451-/realtime,9["test:apply",{"_placeholder":true,"num":0}]')
    await raw.ws.send(b"\x01\x02\x03")
    reply = await raw.ack(9)
    assert reply["error"]["code"] == "binary_not_supported"
    await raw.ws.send(b"\x04")  # a binary frame nobody announced
    assert (await raw.event("error"))["code"] == "binary_not_supported"
    assert gw.registry.applied == []  # type: ignore[attr-defined]
    await raw.ws.close()


async def test_bad_handshakes_are_http_errors(gateway: tuple[Gateway, str]) -> None:
    _, url = gateway
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/socket.io/?EIO=3&transport=polling")).json()["code"] == 5
        assert (await http.get("/socket.io/?EIO=4&transport=carrier")).json()["code"] == 0
        unknown = await http.get("/socket.io/?EIO=4&transport=polling&sid=nope")
        assert unknown.status_code == 400
        assert unknown.json()["code"] == 1
        assert (await http.get("/elsewhere")).status_code == 404
        big = await http.post(
            "/socket.io/?EIO=4&transport=polling&sid=x", content=b"4" * (2 * 1024 * 1024)
        )
        assert big.status_code == 413


async def test_invalid_namespace_is_connect_error(gateway: tuple[Gateway, str]) -> None:
    _, url = gateway
    async with connect(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket") as ws:
        await ws.recv()
        await ws.send("40")
        assert json.loads((await ws.recv())[2:]) == {"message": "Invalid namespace"}


async def test_slow_consumer_is_dropped(start_gateway: GatewayFactory, member: Member) -> None:
    gw, url = await start_gateway(gateway_max_buffer_bytes=64 * 1024)
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    _, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    payload = f'40/realtime,{{"token":"{member.access_token}"}}'.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
    writer.write(header + mask + masked)
    await writer.drain()
    await until(lambda: any(c.state == "connected" for c in gw.sessions.values()))
    # from here on the client reads nothing
    room = user_room(int(member.id))
    blob = "y" * 16_000
    for n in range(2000):
        await gw.ctx.bus.publish(room, "feed:new_post", {"n": n, "blob": blob})
        if not gw.sessions:
            break
    await until(lambda: not gw.sessions)
    metric = gw.metrics_registry.get_sample_value("townsquare_gateway_slow_consumer_drops_total")
    assert metric == 1.0
    writer.close()


async def test_suspended_user_is_disconnected_at_once(
    client: httpx.AsyncClient, gateway: tuple[Gateway, str], js_client: JsFactory
) -> None:
    from sqlalchemy import update

    from townsquare.domains.accounts.models import User

    gw, url = gateway
    admin = await register(client)
    target = await register(client)
    async with gw.ctx.db.transaction() as session:
        await session.execute(update(User).where(User.id == int(admin.id)).values(role="admin"))
    async with js_client(url, auth={"token": target.access_token}) as js:
        await js.expect_type("connect")
        reply = await client.patch(
            f"/api/v1/admin/users/{target.username}",
            json={"status": "suspended", "reason": "test"},
            headers=admin.headers,
        )
        assert reply.status_code == 200, reply.text
        error = await js.expect_event("error")
        assert error["args"][0]["code"] == "account_suspended"
        assert (await js.expect_type("disconnect"))["reason"] == "io server disconnect"
    async with js_client(url, auth={"token": target.access_token}, reconnection=False) as js:
        assert (await js.expect_type("connect_error"))["data"]["code"] == "account_suspended"


async def test_revoked_session_is_disconnected(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    async with js_client(url, auth={"token": member.access_token}) as js:
        await js.expect_type("connect")
        await gw.ctx.bus.publish(
            user_room(int(member.id)),
            "account:session_revoked",
            {"user_id": member.id, "session_id": member.session_id},
        )
        assert (await js.expect_event("error"))["args"][0]["code"] == "session_revoked"
        await js.expect_type("disconnect")


async def test_logout_ends_only_that_sessions_sockets(
    client: httpx.AsyncClient, gateway: tuple[Gateway, str], js_client: JsFactory
) -> None:
    _, url = gateway
    phone = await register(client)
    laptop = await login(client, phone.username)
    async with (
        js_client(url, auth={"token": phone.access_token}) as on_phone,
        js_client(url, auth={"token": laptop.access_token}) as on_laptop,
    ):
        await on_phone.expect_type("connect")
        await on_laptop.expect_type("connect")
        reply = await client.post("/api/v1/auth/logout", headers=phone.headers)
        assert reply.status_code == 204
        assert (await on_phone.expect_event("error"))["args"][0]["code"] == "session_revoked"
        await on_phone.expect_type("disconnect")
        # the laptop's session is untouched: a sign-out-others from it now ends nothing live
        others = await client.post("/api/v1/auth/sessions/revoke-others", headers=laptop.headers)
        assert others.json() == {"sessions_revoked": 0}
        assert (await client.get("/api/v1/users/me", headers=laptop.headers)).status_code == 200
        reply = await on_laptop.emit("presence:activity", {"activity": "still here"})
        assert reply["ok"] is True
