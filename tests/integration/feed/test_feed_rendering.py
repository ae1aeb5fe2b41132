"""Feed items are the post API's views; blocks, mutes and bans hide at once, on every page."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.posts import png, post, upload
from tests.helpers.social import befriend
from tests.integration.feed.test_feed import feed


async def test_feed_items_match_the_post_view(client):
    me, pal, other = [await register(client, n) for n in ("meme", "pal", "other")]
    await befriend(client, me, pal)
    await client.put("/api/v1/following/other", headers=me.headers)
    image = (await upload(client, pal, png())).json()
    rich = await post(
        client,
        pal,
        "with a picture #garden @meme @nobody",
        media_ids=[image["id"]],
        type="progress",
        privacy="friends",
        tags=["spring"],
        metadata={"location": "Lisbon", "mood": "happy"},
    )
    await client.put(f"/api/v1/posts/{rich['id']}/like", headers=me.headers)
    original = await post(client, other, "the original")
    shared = await client.post(
        f"/api/v1/posts/{original['id']}/share", headers=pal.headers, json={"message": "look"}
    )
    assert shared.status_code == 201, shared.text
    await client.patch(f"/api/v1/posts/{original['id']}", headers=other.headers, json={"text": "x"})
    expected = {}
    for pid in (rich["id"], original["id"], shared.json()["id"]):
        reply = await client.get(f"/api/v1/posts/{pid}", headers=me.headers)
        expected[pid] = reply.json()
    for sort in ("ranked", "latest"):
        items = (await feed(client, me, sort=sort))["items"]
        assert {item["id"] for item in items} == set(expected), sort
        for item in items:
            score = item.pop("score")
            assert (score is None) == (sort == "latest")
            assert item == expected[item["id"]], sort
    # the share's original, once hidden from me, is left out of the share (not the share itself)
    await client.put("/api/v1/blocks/meme", headers=other.headers)
    items = (await feed(client, me, sort="latest"))["items"]
    assert [item["id"] for item in items] == [shared.json()["id"], rich["id"]]
    assert items[0]["shared_post"] is None


async def test_block_mute_and_ban_hide_posts_from_snapshot_pages_at_once(client):
    from tests.helpers.accounts import make_admin

    admin = await make_admin(client)
    me, a, b, c = [await register(client, n) for n in ("meme", "aaa", "bbb", "ccc")]
    for other in (a, b, c):
        await befriend(client, me, other)
    for i in range(4):
        for other in (a, b, c):
            await post(client, other, f"{other.username} {i}")
    first = await feed(client, me, limit=3)
    assert first["next_cursor"]
    shown = {item["id"] for item in first["items"]}
    # the snapshot was taken before these: later pages must still apply them
    await client.put("/api/v1/blocks/meme", headers=a.headers)  # a blocks me
    await client.put("/api/v1/mutes/bbb", headers=me.headers)
    await client.patch("/api/v1/admin/users/ccc", headers=admin.headers, json={"status": "banned"})
    cursor, later = first["next_cursor"], []
    while cursor:
        page = await feed(client, me, limit=3, cursor=cursor)
        later += page["items"]
        cursor = page["next_cursor"]
    assert later == []
    assert not shown & {item["id"] for item in later}
    for sort in ("ranked", "latest"):
        assert (await feed(client, me, sort=sort))["items"] == [], sort
    # and they come back when lifted
    await client.delete("/api/v1/mutes/bbb", headers=me.headers)
    texts = {item["text"] for item in (await feed(client, me))["items"]}
    assert texts == {f"bbb {i}" for i in range(4)}


async def test_blocking_someone_hides_their_posts_on_the_next_request(client):
    me, pal = await register(client, "meme"), await register(client, "pal")
    await befriend(client, me, pal)
    await client.put("/api/v1/following/pal", headers=me.headers)
    await client.put("/api/v1/following/meme", headers=pal.headers)
    await post(client, me, "mine")
    await post(client, pal, "hello")
    assert [i["text"] for i in (await feed(client, me, sort="latest"))["items"]] == [
        "hello",
        "mine",
    ]
    await client.put("/api/v1/blocks/pal", headers=me.headers)
    assert [i["text"] for i in (await feed(client, me))["items"]] == ["mine"]
    assert [i["text"] for i in (await feed(client, pal))["items"]] == ["hello"]  # both ways
    await client.delete("/api/v1/blocks/pal", headers=me.headers)
    await client.put("/api/v1/following/pal", headers=me.headers)
    assert [i["text"] for i in (await feed(client, me, sort="latest"))["items"]] == [
        "hello",
        "mine",
    ]


async def test_the_feed_checks_the_callers_standing_on_every_request(client):
    from tests.helpers.accounts import make_admin

    admin = await make_admin(client)
    me, other = await register(client, "meme"), await register(client, "other")
    assert (await client.get("/api/v1/feed", headers=me.headers)).status_code == 200
    await client.patch(
        "/api/v1/admin/users/meme", headers=admin.headers, json={"status": "suspended"}
    )
    suspended = await client.get("/api/v1/feed", headers=me.headers)
    assert (suspended.status_code, suspended.json()["code"]) == (403, "account_suspended")
    assert (await client.post("/api/v1/auth/logout", headers=other.headers)).status_code == 204
    ended = await client.get("/api/v1/feed", headers=other.headers)
    assert (ended.status_code, ended.json()["code"]) == (401, "session_revoked")
    bad = await client.get("/api/v1/feed", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    wrong = await client.get("/api/v1/feed", headers={"Authorization": "Basic abc"})
    assert wrong.status_code == 401
