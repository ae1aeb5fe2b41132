"""Presence over connections and nodes: online, idle, activity, offline with last seen; REST."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.helpers.accounts import Member, register
from tests.helpers.gateway import GatewayFactory, JsClient, JsFactory, until
from townsquare.context import AppContext
from townsquare.core.events import user_room
from townsquare.domains.accounts.models import User
from townsquare.domains.presence.queries import presence_service
from townsquare.domains.presence.router import router
from townsquare.domains.presence.store import RedisPresence, now_ms
from townsquare.realtime import Gateway


def _presence(status: str) -> Any:
    return lambda o: (
        o["type"] == "event"
        and o["event"] == "presence:friend_activity"
        and o["args"][0]["status"] == status
    )


@pytest.fixture
def rest(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The app client, with the realtime router mounted if the app does not include it yet."""
    app: Any = client.app  # type: ignore[attr-defined]
    if not any(getattr(r, "path", "") == "/api/v1/realtime/presence/me" for r in app.routes):
        app.include_router(router)
    return client


async def test_presence_online_idle_active_offline(
    start_gateway: GatewayFactory,
    member: Member,
    js_client: JsFactory,
    rest: httpx.AsyncClient,
    ctx: AppContext,
) -> None:
    # idle after 1 s, swept every 0.1 s; the REST routes see the same presence as the gateway
    fast = dataclasses.replace(
        ctx,
        settings=ctx.settings.model_copy(
            update={"gateway_idle_after_seconds": 1.0, "gateway_presence_sweep_seconds": 0.1}
        ),
    )
    _, url = await start_gateway(context=fast)
    me = "/api/v1/realtime/presence/me"
    async with js_client(url, auth={"token": member.access_token}) as a:
        online = await a.expect(_presence("online"))
        assert online["args"][0]["user_id"] == member.id
        async with js_client(url, auth={"token": member.access_token}) as b:
            await b.expect_type("connect")
            await a.expect(_presence("idle"))
            await b.expect(_presence("idle"))
            reply = await b.emit("presence:activity", {"activity": "reading", "metadata": {"p": 3}})
            assert reply["ok"] is True
            # (under load b's own connect may have woken the user before; skip such events)
            back = await a.expect(
                lambda o: _presence("online")(o) and o["args"][0]["activity"] == "reading"
            )
            assert back["args"][0]["metadata"] == {"p": 3}
        # b left, a remains: still not offline
        info = await presence_service(fast).get(int(member.id))
        assert info.status in ("online", "idle")
        assert info.connections == 1
    await _until_offline(fast, int(member.id))
    info = await presence_service(fast).get(int(member.id))
    assert info.last_seen_ms is not None

    async def last_seen_persisted() -> bool:
        # written just after the offline transition, so wait for it rather than race it
        async with ctx.db.read() as session:
            query = select(User.last_seen_at).where(User.id == int(member.id))
            return await session.scalar(query) is not None

    await until(last_seen_persisted)
    # REST on the app's own context
    reply = await rest.get(me, headers=member.headers)
    assert reply.status_code == 200
    assert reply.json()["user_id"] == member.id


async def _until_offline(ctx: AppContext, user_id: int) -> None:
    async def offline() -> bool:
        return (await presence_service(ctx).get(user_id)).status == "offline"

    await until(offline)


async def test_rest_presence_and_activity(
    gateway: tuple[Gateway, str], member: Member, js_client: JsFactory, rest: httpx.AsyncClient
) -> None:
    _, url = gateway
    assert (await rest.get("/api/v1/realtime/presence/me")).status_code == 401
    offline = await rest.get("/api/v1/realtime/presence/me", headers=member.headers)
    assert offline.json()["status"] == "offline"
    async with js_client(url, auth={"token": member.access_token}) as js:
        await js.expect(_presence("online"))
        reply = await rest.put(
            "/api/v1/realtime/presence/activity",
            json={"activity": "listening", "metadata": {"track": "x"}},
            headers=member.headers,
        )
        assert reply.status_code == 200
        assert reply.json()["activity"] == "listening"
        pushed = await js.expect(
            lambda o: (
                o.get("event") == "presence:friend_activity"
                and o["args"][0]["activity"] == "listening"
            ),
            anywhere=True,
        )
        assert pushed["args"][0]["metadata"] == {"track": "x"}
        me = await rest.get("/api/v1/realtime/presence/me", headers=member.headers)
        assert me.json()["status"] == "online"
        assert me.json()["activity"] == "listening"
    bad = await rest.put(
        "/api/v1/realtime/presence/activity", json={"activity": "x" * 500}, headers=member.headers
    )
    assert bad.status_code == 422


async def test_hidden_online_status_appears_offline_to_others(
    client: httpx.AsyncClient, gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    from sqlalchemy import update

    from townsquare.domains.accounts.models import UserSettings

    gw, url = gateway
    viewer = await register(client)
    service = presence_service(gw.ctx)

    async def audience(_ctx: AppContext, user_id: int) -> set[int]:
        return {int(viewer.id)} if user_id == int(member.id) else set()

    service.audience = audience
    async with (
        js_client(url, auth={"token": member.access_token}) as js,
        js_client(url, auth={"token": viewer.access_token}) as other,
    ):
        await js.expect(_presence("online"))
        await other.expect_type("connect")
        assert (await service.visible_status(int(viewer.id), int(member.id))).status == "online"
        await js.emit("presence:activity", {"activity": "public"})
        await other.expect(
            lambda o: (
                o.get("event") == "presence:friend_activity"
                and o["args"][0]["activity"] == "public"
            ),
            anywhere=True,
        )
        async with gw.ctx.db.transaction() as session:
            await session.execute(
                update(UserSettings)
                .where(UserSettings.user_id == int(member.id))
                .values(show_online_status=False)
            )
        assert (await service.visible_status(int(viewer.id), int(member.id))).status == "offline"
        assert (await service.visible_status(int(member.id), int(member.id))).status == "online"
        await js.emit("presence:activity", {"activity": "secret"})
        # the user's own devices still hear it
        await js.expect(
            lambda o: (
                o.get("event") == "presence:friend_activity"
                and o["args"][0]["activity"] == "secret"
            ),
            anywhere=True,
        )
        # a later event to the viewer proves the secret one would have arrived by now
        await gw.ctx.bus.publish(user_room(int(viewer.id)), "notification:new", {"after": 1})
        await other.expect_event("notification:new")
    assert not _saw_activity(other, "secret")


def _saw_activity(js: JsClient, activity: str) -> bool:
    return any(
        o.get("event") == "presence:friend_activity" and o["args"][0].get("activity") == activity
        for o in js.seen
    )


async def test_followers_who_are_online_hear_about_presence(
    client: httpx.AsyncClient, gateway: tuple[Gateway, str], member: Member, js_client: JsFactory
) -> None:
    _, url = gateway
    follower = await register(client)
    stranger = await register(client)
    reply = await client.put(f"/api/v1/following/{member.username}", headers=follower.headers)
    assert reply.status_code == 204, reply.text
    async with (
        js_client(url, auth={"token": follower.access_token}) as fan,
        js_client(url, auth={"token": stranger.access_token}) as other,
    ):
        await fan.expect_type("connect")
        await other.expect_type("connect")
        async with js_client(url, auth={"token": member.access_token}) as js:
            await js.expect_type("connect")
            heard = await fan.expect(
                lambda o: (
                    o.get("event") == "presence:friend_activity"
                    and o["args"][0]["user_id"] == member.id
                )
            )
            assert heard["args"][0]["status"] == "online"
            await js.emit("presence:activity", {"activity": "painting"})
            await fan.expect(
                lambda o: (
                    o.get("event") == "presence:friend_activity"
                    and o["args"][0]["activity"] == "painting"
                )
            )
        gone = await fan.expect(
            lambda o: (
                o.get("event") == "presence:friend_activity"
                and o["args"][0]["user_id"] == member.id
                and o["args"][0]["status"] == "offline"
            )
        )
        assert gone["args"][0]["last_seen_at"] is not None
        # a later event to the stranger proves nothing about the member was on its way
        await gateway[0].ctx.bus.publish(user_room(int(stranger.id)), "notification:new", {})
        await other.expect_event("notification:new")
    assert not any(
        o.get("event") == "presence:friend_activity" and o["args"][0]["user_id"] == member.id
        for o in other.seen
    )


async def test_two_nodes_deliver_to_each_others_clients(
    ctx: AppContext,
    start_gateway: GatewayFactory,
    client: httpx.AsyncClient,
    js_client: JsFactory,
) -> None:
    if not ctx.settings.redis_url:
        pytest.skip("two gateway nodes need Redis (cluster backend)")
    node_a, url_a = await start_gateway()
    node_b, url_b = await start_gateway(second_node=True)
    alice = await register(client)
    bob = await register(client)
    async with (
        js_client(url_a, auth={"token": alice.access_token}) as on_a,
        js_client(url_b, auth={"token": bob.access_token}) as on_b,
        js_client(url_b, auth={"token": alice.access_token}) as alice_on_b,
    ):
        for js in (on_a, on_b, alice_on_b):
            await js.expect_type("connect")
        # a user-room event published through node A's bus reaches Bob on node B
        await node_a.ctx.bus.publish(user_room(int(bob.id)), "notification:new", {"to": "bob"})
        assert (await on_b.expect_event("notification:new"))["args"][0] == {"to": "bob"}
        # a shared room spanning both nodes
        for js in (on_a, on_b):
            assert (await js.emit("test:join", {"room": "test:stage"}))["ok"] is True
        await node_b.ctx.bus.publish("test:stage", "stream:join", {"who": "b"})
        for js in (on_a, on_b):
            assert (await js.expect_event("stream:join"))["args"] == [{"who": "b"}]
        # Alice has one connection on each node: presence aggregates them
        info = await presence_service(node_a.ctx).get(int(alice.id))
        assert info.status == "online"
        assert info.connections == 2
    await _until_offline(node_a.ctx, int(alice.id))


async def test_crashed_node_users_go_offline(
    ctx: AppContext, start_gateway: GatewayFactory
) -> None:
    if not ctx.settings.redis_url:
        pytest.skip("heartbeats and TTLs are the cluster mechanism")
    fast = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"gateway_presence_sweep_seconds": 0.1})
    )
    await start_gateway(context=fast)
    bus: Any = ctx.bus
    # a node that registered a connection and then died: it never heartbeats again
    dead = RedisPresence(bus.redis, prefix=bus.prefix, idle_after_ms=300_000, ttl_ms=300)
    user_id = 10**15 + secrets.randbelow(10**15)  # no real user, no earlier run
    transition = await dead.connect(user_id, "dead-node:sid", now=now_ms())
    assert transition is not None
    assert transition.new == "online"

    async def swept() -> bool:  # a live node's sweep records the departure
        return (await presence_service(fast).get(user_id)).last_seen_ms is not None

    await until(swept)
    assert (await presence_service(fast).get(user_id)).status == "offline"
