"""The live feed over the gateway, with the official socket.io-client: who gets what."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.app import app_ctx
from tests.helpers.posts import post
from tests.helpers.social import befriend


def is_event(name, **match):
    def check(obs):
        if obs["type"] != "event" or obs["event"] != name:
            return False
        body = obs["args"][0]
        return all(_dig(body, key) == value for key, value in match.items())

    return check


def _dig(body, dotted):
    for part in dotted.split("__"):
        body = body.get(part) if isinstance(body, dict) else None
    return body


def events(js, name):
    return [o["args"][0] for o in js.seen if o["type"] == "event" and o["event"] == name]


async def connect(js_client, url, member, **subscribe):
    ctx = js_client(url, auth={"token": member.access_token})
    js = await ctx.__aenter__()
    js._ctx = ctx
    await js.expect_type("connect")
    reply = await js.emit("feed:subscribe", subscribe)
    assert reply["ok"] is True, reply
    return js


async def test_new_posts_reach_exactly_the_allowed_subscribers(client, live_gateway, js_client):
    author, follower, friend, muter, blocked, stranger, picky, marker = [
        await register(client, n)
        for n in ("author", "follower", "friend", "muter", "blocked", "stranger", "picky", "marker")
    ]
    for who in (follower, muter, blocked, picky):
        await client.put("/api/v1/following/author", headers=who.headers)
    await befriend(client, author, friend)
    await client.put("/api/v1/mutes/author", headers=muter.headers)
    await client.put("/api/v1/blocks/blocked", headers=author.headers)
    clients = {}
    try:
        for member, filters in (
            (follower, {}),
            (friend, {"following_only": True}),
            (muter, {}),
            (blocked, {}),
            (stranger, {}),
            (picky, {"types": ["meal"]}),
        ):
            clients[member.username] = await connect(js_client, live_gateway, member, **filters)
        # everyone also follows `marker`, whose later post proves earlier events had their turn
        for member in (follower, friend, muter, blocked, stranger, picky):
            await client.put("/api/v1/following/marker", headers=member.headers)
        public = await post(client, author, "hello live", type="general")
        meal = await post(client, author, "live meal", type="meal")
        friends_only = await post(client, author, "for friends", privacy="friends")
        await post(client, marker, "marker", type="meal")
        for js in clients.values():
            await js.expect(is_event("feed:new_post", post__text="marker"))
        got = {
            name: [e["post"]["text"] for e in events(js, "feed:new_post")]
            for name, js in clients.items()
        }
        assert got["follower"] == ["hello live", "live meal", "marker"]
        assert got["friend"] == ["marker"]  # following-only: a friend is not a follow
        assert got["muter"] == ["marker"]
        assert got["blocked"] == ["marker"]
        assert got["stranger"] == ["marker"]
        assert got["picky"] == ["live meal", "marker"]
        assert public["id"] and meal["id"] and friends_only["id"]
        # comments follow the post's audience; the friend re-subscribes to everything
        await clients["friend"].emit("feed:subscribe", {})
        await client.post(
            f"/api/v1/posts/{friends_only['id']}/comments",
            headers=friend.headers,
            json={"text": "nice"},
        )
        comment = await clients["friend"].expect(is_event("feed:new_comment"))
        assert comment["args"][0]["comment"]["text"] == "nice"
        await post(client, marker, "marker two")
        await clients["follower"].expect(is_event("feed:new_post", post__text="marker two"))
        assert events(clients["follower"], "feed:new_comment") == []  # friends-only post
    finally:
        for js in clients.values():
            await js._ctx.__aexit__(None, None, None)


async def test_subscribe_validates_filters(client, live_gateway, js_client):
    member = await register(client, "member")
    js = await connect(js_client, live_gateway, member)
    try:
        bad = await js.emit("feed:subscribe", {"types": ["poem"]})
        assert bad["ok"] is False
        assert bad["error"]["code"] == "validation_failed"
        unknown = await js.emit("feed:subscribe", {"surprise": 1})
        assert unknown["ok"] is False
        good = await js.emit("feed:subscribe", {"types": ["meal", "general"]})
        assert good == {"ok": True, "data": {"types": ["general", "meal"], "following_only": False}}
    finally:
        await js._ctx.__aexit__(None, None, None)


async def test_like_bursts_arrive_aggregated(client, live_gateway, js_client):
    app_ctx(client).settings.feed_like_aggregate_seconds = 0.5
    author = await register(client, "author")
    fans = [await register(client, f"fan{i}") for i in range(6)]
    created = await post(client, author, "like me")
    js = await connect(js_client, live_gateway, author)
    try:
        for fan in fans:
            await client.put(f"/api/v1/posts/{created['id']}/like", headers=fan.headers)
        first = await js.expect(is_event("feed:likes"))
        assert first["args"][0]["count"] == 1
        burst = await js.expect(is_event("feed:likes"))
        assert burst["args"][0]["count"] == 5
        assert burst["args"][0]["total"] == 6
        assert [u["username"] for u in burst["args"][0]["recent"]] == ["fan5", "fan4", "fan3"]
        # the author's own like is not told
        await client.put(f"/api/v1/posts/{created['id']}/like", headers=author.headers)
        await client.put(f"/api/v1/posts/{created['id']}/like", headers=fans[0].headers)
        late = await register(client, "latecomer")
        await client.put(f"/api/v1/posts/{created['id']}/like", headers=late.headers)
        after = await js.expect(is_event("feed:likes"))
        assert after["args"][0]["recent"][0]["username"] == "latecomer"
    finally:
        await js._ctx.__aexit__(None, None, None)
