"""Posts: content handling, privacy, blocks, edits with history, deletion, listing."""

from __future__ import annotations

import pytest

from tests.helpers.accounts import register, set_role
from tests.helpers.posts import go_online, post, see
from tests.helpers.social import befriend
from townsquare.domains.posts.schemas import NewPost, PostMentioned


async def test_create_sanitizes_and_parses(client, published):
    ana = await register(client, "ana")
    ben = await register(client, "ben")
    await go_online(client, ana)
    body = await post(
        client,
        ana,
        "<script>alert(1)</script><b>Ran</b> 10k! #Running #mornings @ben @nobody_here "
        '<a href="javascript:alert(1)" onclick="x()">me</a> <img src=x onerror=alert(1)>',
        type="achievement",
        privacy="public",
        tags=["#Fitness", "running"],
        metadata={"location": "Porto", "mood": "proud", "activity": "running"},
    )
    assert "<script" not in body["text"] and "onerror" not in body["text"]
    assert "javascript:" not in body["text"] and "onclick" not in body["text"]
    assert "<b>Ran</b>" in body["text"]
    assert "@nobody_here" in body["text"]
    assert body["tags"] == ["fitness", "running", "mornings"]
    assert body["mentions"] == ["ben"]
    assert body["type"] == "achievement"
    assert body["metadata"] == {"location": "Porto", "mood": "proud", "activity": "running"}
    assert body["author"]["username"] == "ana"
    assert body["stats"] == {"likes": 0, "comments": 0, "shares": 0, "views": 0}
    me = (await client.get("/api/v1/users/me", headers=ana.headers)).json()
    assert me["stats"]["posts"] == 1
    kinds = [type(d.event) for d in published]
    assert kinds == [PostMentioned, NewPost]
    assert published[0].rooms == (f"user:{ben.id}",)
    assert published[0].event.payload() == {
        "post_id": body["id"],
        "author_id": ana.id,
        "author_username": "ana",
    }
    assert published[1].rooms == (f"feed:{ana.id}:achievement",)
    assert published[1].event.payload()["post"]["id"] == body["id"]


async def test_live_posts_are_addressed_to_connected_readers_only(client, published):
    author, online, offline = [await register(client, n) for n in ("author", "online", "offline")]
    for reader in (online, offline):
        await client.put("/api/v1/following/author", headers=reader.headers)
    await go_online(client, online)
    await post(client, author, "who hears this")
    assert [d.rooms for d in published if isinstance(d.event, NewPost)] == [
        (f"feed:{online.id}:following:general",)
    ]
    published.clear()
    await post(client, offline, "nobody is listening")
    assert [d for d in published if isinstance(d.event, NewPost)] == []


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "x" * 5001},
        {"text": ""},
        {"text": "   "},
        {"text": "<script>only script</script>"},
        {"text": "ok", "type": "poem"},
        {"text": "ok", "privacy": "secret"},
        {"text": "ok", "tags": ["has space"]},
        {"text": "ok", "tags": [f"t{i}" for i in range(21)]},
        {"text": "ok", "metadata": {"weather": "sunny"}},
        {"text": "ok", "media_ids": ["1", "2", "3", "4", "5"]},
        {"text": "ok", "media_ids": ["12345"]},
    ],
)
async def test_bad_posts_are_refused_and_change_nothing(client, payload):
    ana = await register(client, "ana")
    reply = await client.post("/api/v1/posts", headers=ana.headers, json=payload)
    assert reply.status_code == 422, reply.text
    listed = await client.get("/api/v1/users/ana/posts", headers=ana.headers)
    assert listed.json()["items"] == []
    me = (await client.get("/api/v1/users/me", headers=ana.headers)).json()
    assert me["stats"]["posts"] == 0


async def test_text_at_limit_is_accepted(client):
    ana = await register(client, "ana")
    body = await post(client, ana, "y" * 5000)
    assert len(body["text"]) == 5000


@pytest.fixture
async def cast(client):
    author = await register(client, "author")
    friend = await register(client, "friend")
    stranger = await register(client, "stranger")
    blocked = await register(client, "blocked")
    moderator = await register(client, "moddy")
    await set_role(client, "moddy", "moderator")
    await befriend(client, author, friend)
    await befriend(client, author, blocked)
    await client.put("/api/v1/blocks/blocked", headers=author.headers)
    return {
        "author": author,
        "friend": friend,
        "stranger": stranger,
        "blocked": blocked,
        "moderator": moderator,
        "anonymous": None,
    }


@pytest.mark.parametrize(
    ("privacy", "visible_to"),
    [
        ("public", {"author", "friend", "stranger", "anonymous", "moderator"}),
        ("friends", {"author", "friend", "moderator"}),
        ("private", {"author", "moderator"}),
    ],
)
async def test_post_privacy_and_blocks(client, cast, privacy, visible_to):
    created = await post(client, cast["author"], "secret or not", privacy=privacy)
    for name, viewer in cast.items():
        expected = 200 if name in visible_to else 404
        assert await see(client, viewer, created["id"]) == expected, (privacy, name)
        headers = viewer.headers if viewer else {}
        listed = await client.get("/api/v1/users/author/posts", headers=headers)
        ids = [p["id"] for p in listed.json().get("items", [])]
        assert (created["id"] in ids) is (name in visible_to), (privacy, name)
        comments = await client.get(f"/api/v1/posts/{created['id']}/comments", headers=headers)
        assert comments.status_code == expected
    ghost = await client.get("/api/v1/posts/123456789", headers=cast["stranger"].headers)
    assert ghost.status_code == 404
    hidden = await client.get(f"/api/v1/posts/{created['id']}", headers={})
    if "anonymous" not in visible_to:
        assert hidden.json()["detail"] == ghost.json()["detail"]


async def test_blocked_user_cannot_interact(client, cast):
    created = await post(client, cast["author"], "public words")
    blocked = cast["blocked"]
    pid = created["id"]
    for method, path, body in (
        ("PUT", f"/api/v1/posts/{pid}/like", None),
        ("POST", f"/api/v1/posts/{pid}/comments", {"text": "hi"}),
        ("POST", f"/api/v1/posts/{pid}/share", {}),
        ("POST", f"/api/v1/posts/{pid}/view", None),
        ("POST", f"/api/v1/posts/{pid}/report", {"reason": "spam"}),
    ):
        reply = await client.request(method, path, headers=blocked.headers, json=body)
        assert reply.status_code == 404, path
    assert (await client.get(f"/api/v1/posts/{pid}")).json()["stats"] == {
        "likes": 0,
        "comments": 0,
        "shares": 0,
        "views": 0,
    }


async def test_banned_authors_posts_are_hidden(client, cast):
    created = await post(client, cast["stranger"], "soon gone")
    await set_role(client, "author", "admin")
    await client.patch(
        "/api/v1/admin/users/stranger", headers=cast["author"].headers, json={"status": "banned"}
    )
    assert await see(client, cast["friend"], created["id"]) == 404
    assert await see(client, cast["moderator"], created["id"]) == 200


async def test_edit_keeps_history_for_author_and_moderators(client, cast):
    author = cast["author"]
    created = await post(client, author, "first #one", tags=["given"])
    pid = created["id"]
    edited = await client.patch(
        f"/api/v1/posts/{pid}", headers=author.headers, json={"text": "second #two"}
    )
    assert edited.status_code == 200
    body = edited.json()
    assert body["is_edited"] is True
    assert body["text"] == "second #two"
    assert body["tags"] == ["given", "two"]
    await client.patch(f"/api/v1/posts/{pid}", headers=author.headers, json={"privacy": "friends"})
    history = await client.get(f"/api/v1/posts/{pid}/history", headers=author.headers)
    assert [h["text"] for h in history.json()] == ["first #one"]
    assert history.json()[0]["tags"] == ["given", "one"]
    mod = await client.get(f"/api/v1/posts/{pid}/history", headers=cast["moderator"].headers)
    assert mod.status_code == 200
    friend = await client.get(f"/api/v1/posts/{pid}/history", headers=cast["friend"].headers)
    assert friend.status_code == 404
    # only the author edits
    other = await client.patch(
        f"/api/v1/posts/{pid}", headers=cast["friend"].headers, json={"text": "hijack"}
    )
    assert other.status_code == 404
    too_long = await client.patch(
        f"/api/v1/posts/{pid}", headers=author.headers, json={"text": "z" * 5001}
    )
    assert too_long.status_code == 422
    assert await see(client, cast["stranger"], pid) == 404  # now friends-only


async def test_delete_by_author_or_moderator(client, cast):
    author = cast["author"]
    first = await post(client, author, "one")
    second = await post(client, author, "two")
    assert (
        await client.delete(f"/api/v1/posts/{first['id']}", headers=cast["friend"].headers)
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/posts/{first['id']}", headers=author.headers)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/posts/{second['id']}", headers=cast["moderator"].headers)
    ).status_code == 204
    assert await see(client, author, first["id"]) == 404
    me = (await client.get("/api/v1/users/me", headers=author.headers)).json()
    assert me["stats"]["posts"] == 0
    assert (
        await client.delete(f"/api/v1/posts/{first['id']}", headers=author.headers)
    ).status_code == 404


async def test_user_posts_paginate_stably(client):
    ana = await register(client, "ana")
    made = [await post(client, ana, f"post {i}") for i in range(5)]
    seen: list[str] = []
    cursor = None
    first = True
    while first or cursor:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/users/ana/posts", params=params)).json()
        if first:
            await post(client, ana, "arrives while paging")
            first = False
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [p["id"] for p in reversed(made)]
