"""Activity stream, trending and statistics endpoints."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.posts import post
from tests.helpers.social import befriend


async def test_activity_stream_filters(client):
    me, pal, idol = [await register(client, n) for n in ("meme", "pal", "idol")]
    await befriend(client, me, pal)
    await client.put("/api/v1/following/idol", headers=me.headers)
    await post(client, pal, "pal meal", type="meal")
    await post(client, idol, "idol progress", type="progress")
    await post(client, idol, "idol meal", type="meal")
    stream = await client.get("/api/v1/realtime/feed", headers=me.headers)
    assert [p["text"] for p in stream.json()] == ["idol meal", "idol progress", "pal meal"]
    only = await client.get(
        "/api/v1/realtime/feed",
        headers=me.headers,
        params={"following_only": "true", "types": ["meal"], "time_range": "hour", "limit": 5},
    )
    assert [p["text"] for p in only.json()] == ["idol meal"]
    bad = await client.get("/api/v1/realtime/feed", headers=me.headers, params={"types": ["poem"]})
    assert bad.status_code == 422


async def test_trending_posts_and_hashtags(client):
    me, a, b = [await register(client, n) for n in ("meme", "aaa", "bbb")]
    fans = [await register(client, f"fan{i}") for i in range(4)]
    hot = await post(client, a, "hot #Running #fun")
    await post(client, b, "cold #running")
    hidden = await post(client, b, "secret #fun #hidden", privacy="private")
    for fan in fans:
        await client.put(f"/api/v1/posts/{hot['id']}/like", headers=fan.headers)
    reply = await client.get(
        "/api/v1/realtime/feed/trending", headers=me.headers, params={"window": "hour"}
    )
    body = reply.json()
    assert body["posts"][0]["id"] == hot["id"]
    assert hidden["id"] not in [p["id"] for p in body["posts"]]
    tags = {t["tag"]: t["posts"] for t in body["hashtags"]}
    assert tags == {"running": 2, "fun": 1}
    assert body["hashtags"][0]["tag"] == "running"
    assert (
        await client.get(
            "/api/v1/realtime/feed/trending", headers=me.headers, params={"window": "year"}
        )
    ).status_code == 422


async def test_statistics(client):
    me, pal = await register(client, "meme"), await register(client, "pal")
    mine = await post(client, me, "mine", type="meal")
    await post(client, pal, "theirs")
    await client.put(f"/api/v1/posts/{mine['id']}/like", headers=pal.headers)
    await client.post(
        f"/api/v1/posts/{mine['id']}/comments", headers=pal.headers, json={"text": "yum"}
    )
    await client.post(f"/api/v1/posts/{mine['id']}/share", headers=pal.headers, json={})
    theirs = (await client.get("/api/v1/users/pal/posts", headers=me.headers)).json()["items"]
    await client.post(
        "/api/v1/feed/interactions",
        headers=me.headers,
        json={"post_id": theirs[-1]["id"], "kind": "click"},
    )
    stats = (await client.get("/api/v1/realtime/feed/statistics", headers=me.headers)).json()
    assert stats["posts"] == 3
    assert stats["comments"] == 1
    assert stats["likes"] == 1
    assert stats["shares"] == 1
    assert stats["active_authors"] == 2
    assert stats["posts_by_type"]["meal"] == 2  # the share keeps the original's type
    assert stats["my_posts"] == 1
    assert stats["my_likes_received"] == 1
    assert stats["my_interactions"] == {"view": 0, "click": 1, "dismiss": 0}
