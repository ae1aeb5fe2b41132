"""Follows with exact counters, blocks that hide both ways, and silent mutes."""

from __future__ import annotations

import asyncio

from tests.helpers.accounts import register
from tests.helpers.social import befriend, names, stats
from townsquare.domains.social.schemas import NewFollower


async def test_follow_unfollow_is_idempotent_and_counts_exactly(client, published):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    for _ in range(3):
        assert (await client.put("/api/v1/following/ben", headers=ana.headers)).status_code == 204
    assert (await stats(client, ana))["following"] == 1
    assert (await stats(client, ben))["followers"] == 1
    assert await names(client, ana, "/api/v1/following") == ["ben"]
    assert await names(client, ben, "/api/v1/followers") == ["ana"]
    assert len(published) == 1
    assert published[0].rooms == (f"user:{ben.id}",)
    assert isinstance(published[0].event, NewFollower)
    assert published[0].event.payload() == {"follower_id": ana.id, "follower_username": "ana"}
    for _ in range(2):
        assert (
            await client.delete("/api/v1/following/ben", headers=ana.headers)
        ).status_code == 204
    assert (await stats(client, ana))["following"] == 0
    assert (await stats(client, ben))["followers"] == 0
    assert (await client.put("/api/v1/following/ana", headers=ana.headers)).status_code == 422
    assert (await client.put("/api/v1/following/nobody_x", headers=ana.headers)).status_code == 404


async def test_concurrent_follows_count_once(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    replies = await asyncio.gather(
        *(client.put("/api/v1/following/ben", headers=ana.headers) for _ in range(8))
    )
    assert {r.status_code for r in replies} == {204}
    assert (await stats(client, ben))["followers"] == 1
    fans = [await register(client, f"fan{i}") for i in range(6)]
    await asyncio.gather(*(client.put("/api/v1/following/ben", headers=f.headers) for f in fans))
    assert (await stats(client, ben))["followers"] == 7


async def test_remove_follower(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await client.put("/api/v1/following/ben", headers=ana.headers)
    assert (await client.delete("/api/v1/followers/ana", headers=ben.headers)).status_code == 204
    assert await names(client, ben, "/api/v1/followers") == []
    assert (await stats(client, ben))["followers"] == 0
    assert (await stats(client, ana))["following"] == 0
    assert (await client.delete("/api/v1/followers/ana", headers=ben.headers)).status_code == 404
    # ana may follow again: removing is not blocking
    assert (await client.put("/api/v1/following/ben", headers=ana.headers)).status_code == 204


async def test_block_ends_everything_and_hides_both_ways(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await befriend(client, ana, ben)
    await client.put("/api/v1/following/ben", headers=ana.headers)
    await client.put("/api/v1/following/ana", headers=ben.headers)
    assert (await client.put("/api/v1/blocks/ben", headers=ana.headers)).status_code == 204
    assert (await client.put("/api/v1/blocks/ben", headers=ana.headers)).status_code == 204
    assert await names(client, ana, "/api/v1/friends") == []
    assert await names(client, ben, "/api/v1/friends") == []
    assert await names(client, ana, "/api/v1/following") == []
    assert await names(client, ben, "/api/v1/following") == []
    for member in (ana, ben):
        assert await stats(client, member) == {
            "followers": 0,
            "following": 0,
            "posts": 0,
            "achievements": 0,
            "level": 1,
        }
    assert await names(client, ana, "/api/v1/blocks") == ["ben"]
    # hidden both ways: profiles, follows, requests, mutes
    assert (await client.get("/api/v1/users/ana", headers=ben.headers)).status_code == 404
    assert (await client.get("/api/v1/users/ben", headers=ana.headers)).status_code == 404
    assert (await client.put("/api/v1/following/ana", headers=ben.headers)).status_code == 404
    assert (await client.put("/api/v1/following/ben", headers=ana.headers)).status_code == 404
    sent = await client.post(
        "/api/v1/friends/requests", headers=ben.headers, json={"username": "ana"}
    )
    assert sent.status_code == 404
    assert (
        await client.get("/api/v1/users/ana/relationship", headers=ben.headers)
    ).status_code == 404
    view = (await client.get("/api/v1/users/ben/relationship", headers=ana.headers)).json()
    assert view["is_blocking"] is True
    # unblock: visible again, but friendship and follows stay ended
    assert (await client.delete("/api/v1/blocks/ben", headers=ana.headers)).status_code == 204
    assert (await client.get("/api/v1/users/ana", headers=ben.headers)).status_code == 200
    assert await names(client, ana, "/api/v1/friends") == []
    assert (await client.put("/api/v1/blocks/ana", headers=ana.headers)).status_code == 422


async def test_block_removes_pending_requests_and_hides_from_lists(client):
    ana, ben, cy = [await register(client, n) for n in ("ana", "ben", "cyd")]
    await client.post("/api/v1/friends/requests", headers=ben.headers, json={"username": "ana"})
    await befriend(client, cy, ben)
    await client.put("/api/v1/blocks/ben", headers=ana.headers)
    incoming = (await client.get("/api/v1/friends/requests/incoming", headers=ana.headers)).json()
    assert incoming["items"] == []
    # ana does not see ben in cy's friend list
    assert await names(client, ana, "/api/v1/users/cyd/friends") == []
    assert await names(client, cy, "/api/v1/users/cyd/friends") == ["ben"]


async def test_mute_is_silent_and_idempotent(client, published):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await befriend(client, ana, ben)
    published.clear()
    for _ in range(2):
        assert (await client.put("/api/v1/mutes/ben", headers=ana.headers)).status_code == 204
    assert await names(client, ana, "/api/v1/mutes") == ["ben"]
    assert published == []  # ben is not told
    # muting changes no relationship
    assert await names(client, ana, "/api/v1/friends") == ["ben"]
    assert (await client.get("/api/v1/users/ana/relationship", headers=ben.headers)).json()[
        "is_muting"
    ] is False
    assert (await client.delete("/api/v1/mutes/ben", headers=ana.headers)).status_code == 204
    assert await names(client, ana, "/api/v1/mutes") == []
    assert (await client.put("/api/v1/mutes/ana", headers=ana.headers)).status_code == 422


async def test_lists_need_authentication(client):
    for path in ("/api/v1/friends", "/api/v1/followers", "/api/v1/blocks", "/api/v1/mutes"):
        assert (await client.get(path)).status_code == 401
    assert (await client.put("/api/v1/following/someone")).status_code == 401
