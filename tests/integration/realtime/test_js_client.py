"""The official socket.io-client against the gateway: handshake, events, acks, upgrade, auth."""

from __future__ import annotations

from tests.helpers.accounts import Member
from tests.helpers.gateway import GatewayFactory, JsFactory
from townsquare.core.events import user_room
from townsquare.realtime import Gateway


async def test_default_options_poll_then_upgrade(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    async with js_client(url, auth={"token": member.access_token}) as js:
        first = await js.expect_type("engine_open")
        assert first["transport"] == "polling"
        upgraded = await js.expect_type("upgrade")
        assert upgraded["transport"] == "websocket"
        await js.expect_type("connect")
        assert await js.emit("test:echo", {"hello": "world"}) == {
            "ok": True,
            "data": {"hello": "world"},
        }
        await gw.ctx.bus.publish(user_room(int(member.id)), "notification:new", {"n": 1})
        event = await js.expect_event("notification:new")
        assert event["args"][0] == {"n": 1}
        assert isinstance(event["args"][1]["offset"], str)


async def test_websocket_only(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    _, url = gateway
    async with js_client(url, auth={"token": member.access_token}, transports=["websocket"]) as js:
        assert (await js.expect_type("connect"))["transport"] == "websocket"
        assert (await js.emit("test:echo", [1, 2]))["data"] == [1, 2]


async def test_polling_only(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    async with js_client(url, auth={"token": member.access_token}, transports=["polling"]) as js:
        assert (await js.expect_type("connect"))["transport"] == "polling"
        assert (await js.emit("test:echo", "x"))["data"] == "x"
        for n in range(3):
            await gw.ctx.bus.publish(user_room(int(member.id)), "feed:new_post", {"n": n})
        for n in range(3):
            assert (await js.expect_event("feed:new_post"))["args"][0] == {"n": n}


async def test_missing_invalid_and_expired_tokens_are_refused(
    gateway: tuple[Gateway, str], js_client: JsFactory
) -> None:
    _, url = gateway
    cases = [({}, "token_missing"), ({"token": "nope"}, "token_invalid")]
    for auth, reason in cases:
        async with js_client(url, auth=auth, reconnection=False) as js:
            err = await js.expect_type("connect_error")
            assert err["message"] == reason
            assert err["data"]["code"] == reason


async def test_expired_token_refused(
    start_gateway: GatewayFactory, member: Member, js_client: JsFactory
) -> None:
    from townsquare.core.security import create_access_token

    gw, url = await start_gateway()
    token, _ = create_access_token(
        secret=gw.ctx.jwt_secret,
        user_id=int(member.id),
        session_id=int(member.session_id),
        role="user",
        ttl_seconds=-10,
    )
    async with js_client(url, auth={"token": token}, reconnection=False) as js:
        err = await js.expect_type("connect_error")
        assert err["data"]["code"] == "token_expired"


async def test_token_expiring_while_connected_ends_connection(
    start_gateway: GatewayFactory, member: Member, js_client: JsFactory
) -> None:
    from townsquare.core.security import create_access_token

    gw, url = await start_gateway()
    token, _ = create_access_token(
        secret=gw.ctx.jwt_secret,
        user_id=int(member.id),
        session_id=int(member.session_id),
        role="user",
        ttl_seconds=2,
    )
    async with js_client(url, auth={"token": token}, transports=["websocket"]) as js:
        await js.expect_type("connect")
        error = await js.expect_event("error")
        assert error["args"][0]["code"] == "token_expired"
        assert (await js.expect_type("disconnect"))["reason"] == "io server disconnect"


async def test_unknown_event_and_bad_room_are_ack_errors(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    async with js_client(url, auth={"token": member.access_token}) as js:
        await js.expect_type("connect")
        reply = await js.emit("no:such_event", {})
        assert reply["ok"] is False
        assert reply["error"]["code"] == "unknown_event"
        refused = await js.emit("test:join", {"room": "test:forbidden-1"})
        assert refused == {"ok": False, "error": {"code": "forbidden", "message": "Not for you"}}
        no_policy = await js.emit("test:join", {"room": "nobody:1"})
        assert no_policy["error"]["code"] == "room_forbidden"
        joined = await js.emit("test:join", {"room": "test:lobby"})
        assert "test:lobby" in joined["data"]["rooms"]
        await gw.ctx.bus.publish("test:lobby", "stream:join", {"who": "x"})
        assert (await js.expect_event("stream:join"))["args"] == [{"who": "x"}]


async def test_backend_failure_during_handshake_is_a_clear_refusal(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway

    async def broken(user_id: int) -> int:
        raise RuntimeError("redis is down")

    gw.conn_listener.count = broken  # type: ignore[method-assign]
    async with js_client(url, auth={"token": member.access_token}, reconnection=False) as js:
        err = await js.expect_type("connect_error")
        assert err["data"]["code"] == "unavailable"
