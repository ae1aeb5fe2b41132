"""The home feed: who appears, ranking, latest order, stable pages, preferences, interactions."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.posts import post
from tests.helpers.social import befriend


async def feed(client, member, **params):
    reply = await client.get("/api/v1/feed", headers=member.headers, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def texts(client, member, **params):
    return [item["text"] for item in (await feed(client, member, **params))["items"]]


async def all_pages(client, member, *, limit, between=None, **params):
    """Walk every page; `between` runs after the first page (e.g. new posts arriving)."""
    seen, cursor, first = [], None, True
    while first or cursor:
        extra = {"cursor": cursor} if cursor else {}
        page = await feed(client, member, limit=limit, **params, **extra)
        if first and between is not None:
            await between()
        first = False
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    return seen


async def test_feed_has_friends_followed_and_own_posts_only(client):
    me, pal, idol, stranger = [
        await register(client, n) for n in ("meme", "pal", "idol", "strange")
    ]
    await befriend(client, me, pal)
    await client.put("/api/v1/following/idol", headers=me.headers)
    await post(client, pal, "from pal")
    await post(client, pal, "pal friends only", privacy="friends")
    await post(client, pal, "pal private", privacy="private")
    await post(client, idol, "from idol")
    await post(client, idol, "idol friends only", privacy="friends")
    await post(client, stranger, "from stranger")
    await post(client, me, "mine", privacy="private")
    for sort in ("ranked", "latest"):
        got = set(await texts(client, me, sort=sort))
        assert got == {"from pal", "pal friends only", "from idol", "mine"}, sort


async def test_latest_is_reverse_chronological(client):
    me, pal = await register(client, "meme"), await register(client, "pal")
    await befriend(client, me, pal)
    for i in range(4):
        await post(client, pal, f"p{i}")
    assert await texts(client, me, sort="latest") == ["p3", "p2", "p1", "p0"]


async def test_mutes_blocks_and_unfollows_leave_the_feed(client):
    me, a, b, c = [await register(client, n) for n in ("meme", "aaa", "bbb", "ccc")]
    for other in (a, b, c):
        await client.put(f"/api/v1/following/{other.username}", headers=me.headers)
        await post(client, other, f"by {other.username}")
    await client.put("/api/v1/mutes/aaa", headers=me.headers)
    await client.put("/api/v1/blocks/me", headers=b.headers)  # unknown name: nothing happens
    await client.put("/api/v1/blocks/meme", headers=b.headers)
    await client.delete("/api/v1/following/ccc", headers=me.headers)
    assert await texts(client, me) == []
    await client.delete("/api/v1/mutes/aaa", headers=me.headers)
    assert await texts(client, me) == ["by aaa"]


async def test_ranking_prefers_engagement_and_relationship(client):
    me, close, far = [await register(client, n) for n in ("meme", "close", "far")]
    fans = [await register(client, f"fan{i}") for i in range(6)]
    for other in (close, far):
        await client.put(f"/api/v1/following/{other.username}", headers=me.headers)
    popular = await post(client, far, "popular")
    await post(client, far, "quiet newer")
    for fan in fans:
        await client.put(f"/api/v1/posts/{popular['id']}/like", headers=fan.headers)
    ranked = await texts(client, me)
    assert ranked.index("popular") < ranked.index("quiet newer")
    # interacting with an author lifts their posts
    older = await post(client, close, "close older")
    await post(client, far, "far newest")
    for kind in ("click", "click", "view"):
        await client.post(
            "/api/v1/feed/interactions",
            headers=me.headers,
            json={"post_id": older["id"], "kind": kind},
        )
    await client.put(f"/api/v1/posts/{older['id']}/like", headers=me.headers)
    ranked = await feed(client, me)
    order = [item["text"] for item in ranked["items"]]
    assert order.index("close older") < order.index("far newest")
    assert all(item["score"] is not None for item in ranked["items"])
    latest = await feed(client, me, sort="latest")
    assert latest["items"][0]["text"] == "far newest"
    assert latest["items"][0]["score"] is None


async def test_pages_are_stable_while_posts_arrive(client):
    me, pal = await register(client, "meme"), await register(client, "pal")
    await befriend(client, me, pal)
    made = [(await post(client, pal, f"p{i}"))["id"] for i in range(7)]

    async def arrive():
        for i in range(3):
            await post(client, pal, f"new{i}")

    for sort in ("ranked", "latest"):
        seen = await all_pages(client, me, limit=3, sort=sort, between=arrive)
        assert len(seen) == len(set(seen)), sort  # no duplicates
        assert set(made) <= set(seen), sort  # no skips
    bad = await client.get("/api/v1/feed", headers=me.headers, params={"cursor": "!!"})
    assert bad.status_code == 422


async def test_ranked_feed_continues_in_time_order_past_the_window(client):
    me, pal = await register(client, "meme"), await register(client, "pal")
    await befriend(client, me, pal)
    async with client_settings(client, feed_candidates=20):
        made = [(await post(client, pal, f"p{i}"))["id"] for i in range(25)]
        seen = await all_pages(client, me, limit=7)
    assert sorted(seen) == sorted(made)
    assert len(seen) == 25


class client_settings:
    """Change app settings for the duration of a block."""

    def __init__(self, client, **changes):
        from tests.helpers.app import app_ctx

        self.settings = app_ctx(client).settings
        self.changes = changes
        self.old = {}

    async def __aenter__(self):
        for name, value in self.changes.items():
            self.old[name] = getattr(self.settings, name)
            setattr(self.settings, name, value)

    async def __aexit__(self, *exc):
        for name, value in self.old.items():
            setattr(self.settings, name, value)


async def test_dismissed_posts_do_not_come_back(client):
    me, pal = await register(client, "meme"), await register(client, "pal")
    await befriend(client, me, pal)
    gone = await post(client, pal, "dismiss me")
    await post(client, pal, "keep me")
    reply = await client.post(
        "/api/v1/feed/interactions",
        headers=me.headers,
        json={"post_id": gone["id"], "kind": "dismiss"},
    )
    assert reply.status_code == 204
    for sort in ("ranked", "latest"):
        assert await texts(client, me, sort=sort) == ["keep me"]
    stranger = await register(client, "strange")
    hidden = await post(client, stranger, "private", privacy="private")
    refused = await client.post(
        "/api/v1/feed/interactions",
        headers=me.headers,
        json={"post_id": hidden["id"], "kind": "click"},
    )
    assert refused.status_code == 404
    wrong = await client.post(
        "/api/v1/feed/interactions",
        headers=me.headers,
        json={"post_id": gone["id"], "kind": "stare"},
    )
    assert wrong.status_code == 422


async def test_preferences_filter_types_and_reported_posts(client):
    me, pal = await register(client, "meme"), await register(client, "pal")
    reporters = [await register(client, f"rep{i}") for i in range(3)]
    await befriend(client, me, pal)
    await post(client, pal, "a meal", type="meal")
    await post(client, pal, "an achievement", type="achievement")
    spam = await post(client, pal, "spammy")
    for reporter in reporters:
        await client.post(
            f"/api/v1/posts/{spam['id']}/report", headers=reporter.headers, json={"reason": "spam"}
        )
    defaults = (await client.get("/api/v1/feed/preferences", headers=me.headers)).json()
    assert defaults["show_meals"] is True and defaults["hide_reported"] is True
    assert set(await texts(client, me)) == {"a meal", "an achievement"}
    changed = await client.patch(
        "/api/v1/feed/preferences",
        headers=me.headers,
        json={"show_meals": False, "hide_reported": False},
    )
    assert changed.json()["show_meals"] is False
    assert set(await texts(client, me, sort="latest")) == {"an achievement", "spammy"}
    bad = await client.patch(
        "/api/v1/feed/preferences", headers=me.headers, json={"show_meals": "maybe"}
    )
    assert bad.status_code == 422


async def test_feed_needs_sign_in(client):
    assert (await client.get("/api/v1/feed")).status_code == 401


async def test_banned_authors_leave_the_feed(client):
    from tests.helpers.accounts import make_admin

    admin = await make_admin(client)
    me, pal = await register(client, "meme"), await register(client, "pal")
    await befriend(client, me, pal)
    await post(client, pal, "soon banned")
    assert await texts(client, me) == ["soon banned"]
    await client.patch("/api/v1/admin/users/pal", headers=admin.headers, json={"status": "banned"})
    for sort in ("ranked", "latest"):
        assert await texts(client, me, sort=sort) == [], sort


async def test_unknown_or_foreign_snapshots_are_expired(client):
    from townsquare.core.pagination import encode_cursor

    me, pal = await register(client, "meme"), await register(client, "pal")
    await befriend(client, me, pal)
    for i in range(3):
        await post(client, pal, f"p{i}")
    page = await feed(client, me, limit=1)
    # someone else's snapshot, a made-up one, a malformed one
    stolen = await client.get(
        "/api/v1/feed", headers=pal.headers, params={"cursor": page["next_cursor"]}
    )
    assert stolen.status_code == 422
    assert stolen.json()["code"] == "cursor_expired"
    made_up = encode_cursor({"s": "nope", "o": 1, "b": None})
    reply = await client.get("/api/v1/feed", headers=me.headers, params={"cursor": made_up})
    assert reply.json()["code"] == "cursor_expired"
    for bad in ({"s": "x", "o": -1, "b": None}, {"s": 5, "o": 1, "b": None}, {"id": "1"}):
        reply = await client.get(
            "/api/v1/feed", headers=me.headers, params={"cursor": encode_cursor(bad)}
        )
        assert reply.json()["code"] == "invalid_cursor", bad
    mixed = await client.get(
        "/api/v1/feed", headers=me.headers, params={"sort": "latest", "cursor": page["next_cursor"]}
    )
    assert mixed.json()["code"] == "invalid_cursor"
