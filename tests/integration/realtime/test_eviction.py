"""`room:left`: a domain action takes a user's connections out of a room on every node."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import socketio

from tests.helpers.accounts import Member, register
from tests.helpers.gateway import WAIT, GatewayFactory, JsClient, JsFactory, until
from townsquare.context import AppContext
from townsquare.realtime import Gateway
from townsquare.realtime.rooms import evict_from_room

CLUB = "test:club"
LOBBY = "test:lobby"


async def _evict(ctx: AppContext, room: str, *users: Member) -> None:
    """What a domain action does: queue the eviction in its transaction; it goes out on commit."""
    async with ctx.db.transaction() as session:
        evict_from_room(session, room=room, user_ids=[int(u.id) for u in users])


def _message(n: Any) -> Any:
    return lambda o: o.get("event") == "chat:new_message" and o["args"][0] == {"n": n}


def _got(js: JsClient, n: Any) -> bool:
    return any(_message(n)(o) for o in js.seen)


async def _room_left(js: JsClient, room: str) -> dict[str, Any]:
    left = await js.expect(lambda o: o.get("event") == "room:left", anywhere=True)
    data, meta = left["args"]
    assert data == {"room": room}
    assert isinstance(meta["offset"], str)
    return left


async def test_evicted_user_stops_receiving_the_room_and_others_keep_it(
    ctx: AppContext,
    gateway: tuple[Gateway, str],
    member: Member,
    client: httpx.AsyncClient,
    js_client: JsFactory,
) -> None:
    gw, url = gateway
    alice, bob = member, await register(client)
    python_got: list[tuple[str, Any]] = []
    sio = socketio.AsyncClient()

    @sio.on("*", namespace="/realtime")
    async def any_event(event: str, *args: Any) -> None:
        python_got.append((event, args))

    async with (
        js_client(url, auth={"token": alice.access_token}) as alice_js,
        js_client(url, auth={"token": bob.access_token}, transports=["websocket"]) as bob_js,
    ):
        await sio.connect(
            url, namespaces=["/realtime"], auth={"token": alice.access_token}, wait_timeout=WAIT
        )
        try:
            for js in (alice_js, bob_js):
                await js.expect_type("connect")
                assert (await js.emit("test:join", {"room": CLUB}))["ok"] is True
            assert (await alice_js.emit("test:join", {"room": LOBBY}))["ok"] is True
            for room in (CLUB, LOBBY):
                reply = await sio.call("test:join", {"room": room}, namespace="/realtime")
                assert reply["ok"] is True
            await gw.ctx.bus.publish(CLUB, "chat:new_message", {"n": 1})
            for js in (alice_js, bob_js):
                await js.expect(_message(1))
            await until(lambda: ("chat:new_message", ({"n": 1},)) in python_got)

            await _evict(ctx, CLUB, alice)
            await _room_left(alice_js, CLUB)
            await until(lambda: any(e == "room:left" for e, _ in python_got))
            left = next(args for e, args in python_got if e == "room:left")
            assert left[0] == {"room": CLUB} and "offset" in left[1]
            assert not any(o.get("event") == "room:left" for o in bob_js.seen)

            await gw.ctx.bus.publish(CLUB, "chat:new_message", {"n": 2})
            await bob_js.expect(_message(2))
            # the lobby, which Alice did not leave, still reaches both her connections; the club
            # message published before it never arrives
            await gw.ctx.bus.publish(LOBBY, "chat:new_message", {"n": "lobby"})
            await alice_js.expect(_message("lobby"))
            await until(lambda: ("chat:new_message", ({"n": "lobby"},)) in python_got)
            assert not _got(alice_js, 2)
            assert ("chat:new_message", ({"n": 2},)) not in python_got
            assert {c.principal.user_id for c in gw.rooms[CLUB] if c.principal} == {int(bob.id)}
            assert len(gw.rooms[LOBBY]) == 2

            # the room's policy still lets her in: rejoining brings the room back
            assert (await alice_js.emit("test:join", {"room": CLUB}))["ok"] is True
            await gw.ctx.bus.publish(CLUB, "chat:new_message", {"n": 3})
            for js in (alice_js, bob_js):
                await js.expect(_message(3))
        finally:
            await sio.disconnect()


async def test_rejoin_is_refused_when_the_policy_says_no(
    ctx: AppContext, gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    async with js_client(url, auth={"token": member.access_token}) as js:
        await js.expect_type("connect")
        for room in (CLUB, LOBBY):
            assert (await js.emit("test:join", {"room": room}))["ok"] is True
        gw.registry.denied.add((int(member.id), CLUB))  # type: ignore[attr-defined]
        await _evict(ctx, CLUB, member)
        await _room_left(js, CLUB)
        refused = await js.emit("test:join", {"room": CLUB})
        assert refused == {
            "ok": False,
            "error": {"code": "not_member", "message": "Join the room first"},
        }
        assert (await js.emit("test:echo", "rooms?"))["ok"] is True
        await gw.ctx.bus.publish(CLUB, "chat:new_message", {"n": 1})
        await gw.ctx.bus.publish(LOBBY, "chat:new_message", {"n": "lobby"})
        await js.expect(_message("lobby"))
        assert not _got(js, 1)
    assert CLUB not in gw.rooms


async def test_rolled_back_eviction_changes_nothing(
    ctx: AppContext, gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    async with js_client(url, auth={"token": member.access_token}, transports=["websocket"]) as js:
        await js.expect_type("connect")
        assert (await js.emit("test:join", {"room": CLUB}))["ok"] is True

        async def failing_action() -> None:
            async with ctx.db.transaction() as session:
                evict_from_room(session, room=CLUB, user_ids=[int(member.id)])
                raise RuntimeError("the action failed after queueing the eviction")

        with pytest.raises(RuntimeError):
            await failing_action()
        await gw.ctx.bus.publish(CLUB, "chat:new_message", {"n": 1})
        await js.expect(_message(1))
    assert not any(o.get("event") == "room:left" for o in js.seen)


async def test_join_racing_an_eviction_asks_the_policy_again(
    ctx: AppContext, gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    reg: Any = gw.registry
    gate = asyncio.Event()
    async with js_client(url, auth={"token": member.access_token}, transports=["websocket"]) as js:
        await js.expect_type("connect")
        reg.gate.append(gate)
        joining = await js.send("emit", event="test:join", args=[{"room": CLUB}], ack=True)
        try:
            # the policy has read "member" and is slow to answer; meanwhile the removal commits
            await until(lambda: CLUB in reg.waiting)
            reg.denied.add((int(member.id), CLUB))
            await _evict(ctx, CLUB, member)
            await _room_left(js, CLUB)
        finally:
            reg.gate.clear()
            gate.set()
        ack = await js.expect(lambda o: o.get("id") == joining and o["type"] == "ack")
        refused = ack["reply"]
        assert refused["ok"] is False
        assert refused["error"]["code"] == "not_member"
        await gw.ctx.bus.publish(CLUB, "chat:new_message", {"n": 1})
        assert (await js.emit("test:echo", 1))["ok"] is True
    assert CLUB not in gw.rooms
    assert not _got(js, 1)


async def test_eviction_reaches_the_users_connections_on_every_node(
    ctx: AppContext,
    start_gateway: GatewayFactory,
    member: Member,
    client: httpx.AsyncClient,
    js_client: JsFactory,
) -> None:
    if not ctx.settings.redis_url:
        pytest.skip("two gateway nodes need Redis (cluster backend)")
    node_a, url_a = await start_gateway()
    node_b, url_b = await start_gateway(second_node=True)
    alice, bob = member, await register(client)
    async with (
        js_client(url_a, auth={"token": alice.access_token}) as alice_a,
        js_client(url_b, auth={"token": alice.access_token}) as alice_b,
        js_client(url_b, auth={"token": bob.access_token}) as bob_b,
        js_client(url_a, auth={"token": bob.access_token}) as bob_a,
    ):
        everyone = (alice_a, alice_b, bob_b, bob_a)
        for js in everyone:
            await js.expect_type("connect")
            for room in (CLUB, LOBBY):
                assert (await js.emit("test:join", {"room": room}))["ok"] is True
        await node_b.ctx.bus.publish(CLUB, "chat:new_message", {"n": 1})
        for js in everyone:
            await js.expect(_message(1))

        await _evict(ctx, CLUB, alice)  # published through node A's bus, applied on both
        for js in (alice_a, alice_b):
            await _room_left(js, CLUB)
        await node_b.ctx.bus.publish(CLUB, "chat:new_message", {"n": 2})
        await node_a.ctx.bus.publish(LOBBY, "chat:new_message", {"n": "lobby"})
        for js in (bob_a, bob_b):
            await js.expect(_message(2))
        for js in everyone:
            await js.expect(_message("lobby"))
        assert not _got(alice_a, 2)
        assert not _got(alice_b, 2)
        for node in (node_a, node_b):
            members = {c.principal.user_id for c in node.rooms[CLUB] if c.principal}
            assert members == {int(bob.id)}


async def test_eviction_published_while_the_node_was_unsubscribed_is_applied_on_resync(
    ctx: AppContext, gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    gw, url = gateway
    bus: Any = gw.ctx.bus
    if not gw.ctx.settings.redis_url:  # with Redis configured, `bus.redis` must exist
        pytest.skip("the subscription connection exists with Redis only")
    async with js_client(url, auth={"token": member.access_token}, transports=["websocket"]) as js:
        await js.expect_type("connect")
        for room in (CLUB, LOBBY):
            assert (await js.emit("test:join", {"room": room}))["ok"] is True
        await bus.publish(f"user:{member.id}", "notification:new", {"n": 0})
        await js.expect_event("notification:new")  # an offset to resume from
        clients = await bus.redis.client_list(_type="pubsub")
        ours = [c for c in clients if c.get("name") == bus.client_name]
        assert ours
        for c in ours:
            await bus.redis.client_kill_filter(_id=c["id"])
        await _evict(ctx, CLUB, member)  # nobody on this node hears it live
        await _room_left(js, CLUB)  # replayed from the user's stream once resubscribed
        await until(lambda: CLUB not in gw.rooms)
        await bus.publish(CLUB, "chat:new_message", {"n": 1})
        await bus.publish(LOBBY, "chat:new_message", {"n": "lobby"})
        await js.expect(_message("lobby"))
    assert not _got(js, 1)
