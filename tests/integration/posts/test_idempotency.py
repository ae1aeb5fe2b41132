"""Posts and comments with a `client_id`: a replay (an offline client's resend) applies once."""

from __future__ import annotations

import asyncio

from tests.helpers.accounts import register
from tests.helpers.posts import go_online, post
from townsquare.domains.posts.schemas import NewComment, NewPost


async def test_post_replay_returns_the_original_and_publishes_once(client, published):
    ana = await register(client, "ana")
    await go_online(client, ana)
    body = {"text": "offline hello #queued", "client_id": "q-1"}
    first = await client.post("/api/v1/posts", json=body, headers=ana.headers)
    again = await client.post("/api/v1/posts", json=body, headers=ana.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["text"] == first.json()["text"]
    assert [type(d.event) for d in published].count(NewPost) == 1
    listed = (await client.get("/api/v1/users/ana/posts", headers=ana.headers)).json()
    assert [p["id"] for p in listed["items"]] == [first.json()["id"]]
    me = (await client.get("/api/v1/users/me", headers=ana.headers)).json()
    assert me["stats"]["posts"] == 1


async def test_post_client_ids_are_per_author(client):
    ana = await register(client, "ana")
    ben = await register(client, "ben")
    body = {"text": "same key", "client_id": "shared"}
    mine = await client.post("/api/v1/posts", json=body, headers=ana.headers)
    theirs = await client.post("/api/v1/posts", json=body, headers=ben.headers)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    plain = [await client.post("/api/v1/posts", json={"text": "no key"}, headers=ana.headers)]
    plain.append(await client.post("/api/v1/posts", json={"text": "no key"}, headers=ana.headers))
    assert [r.status_code for r in plain] == [201, 201]
    long = await client.post(
        "/api/v1/posts", json={"text": "x", "client_id": "k" * 129}, headers=ana.headers
    )
    assert long.status_code == 422


async def test_concurrent_post_replays_make_one_post(client):
    ana = await register(client, "ana")
    body = {"text": "raced", "client_id": "race-1"}
    replies = await asyncio.gather(
        *(client.post("/api/v1/posts", json=body, headers=ana.headers) for _ in range(4))
    )
    assert sorted(r.status_code for r in replies) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in replies}) == 1


async def test_comment_replay_returns_the_original_and_counts_once(client, published):
    ana = await register(client, "ana")
    ben = await register(client, "ben")
    await go_online(client, ana)
    await go_online(client, ben)
    target = await post(client, ana, "comment on me")
    url = f"/api/v1/posts/{target['id']}/comments"
    body = {"text": "queued while offline", "client_id": "c-1"}
    first = await client.post(url, json=body, headers=ben.headers)
    again = await client.post(url, json=body, headers=ben.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert [type(d.event) for d in published].count(NewComment) == 1
    listed = (await client.get(url, headers=ben.headers)).json()["items"]
    assert [c["id"] for c in listed] == [first.json()["id"]]
    seen = (await client.get(f"/api/v1/posts/{target['id']}", headers=ana.headers)).json()
    assert seen["stats"]["comments"] == 1
