"""Friend requests and friendships: every transition and its edge cases."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.social import befriend, names
from townsquare.domains.social.schemas import FriendRequestAccepted, FriendRequestReceived


async def request(client, sender, receiver, **body):
    return await client.post(
        "/api/v1/friends/requests",
        headers=sender.headers,
        json={"username": receiver.username, **body},
    )


async def test_request_accept_makes_friends_both_ways(client, published):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    sent = await request(client, ana, ben, message="Hi from the climbing gym")
    assert sent.status_code == 201
    body = sent.json()
    assert body["status"] == "pending"
    assert body["request"]["message"] == "Hi from the climbing gym"
    assert body["request"]["sender"]["username"] == "ana"
    incoming = (await client.get("/api/v1/friends/requests/incoming", headers=ben.headers)).json()
    assert [r["sender"]["username"] for r in incoming["items"]] == ["ana"]
    outgoing = (await client.get("/api/v1/friends/requests/outgoing", headers=ana.headers)).json()
    assert [r["receiver"]["username"] for r in outgoing["items"]] == ["ben"]
    request_id = body["request"]["id"]
    accepted = await client.post(
        f"/api/v1/friends/requests/{request_id}/accept", headers=ben.headers
    )
    assert accepted.status_code == 204
    assert await names(client, ana, "/api/v1/friends") == ["ben"]
    assert await names(client, ben, "/api/v1/friends") == ["ana"]
    incoming = (await client.get("/api/v1/friends/requests/incoming", headers=ben.headers)).json()
    assert incoming["items"] == []
    # events: the receiver hears of the request, the sender of the acceptance
    assert [d.rooms for d in published] == [(f"user:{ben.id}",), (f"user:{ana.id}",)]
    first, second = published[0].event, published[1].event
    assert isinstance(first, FriendRequestReceived)
    assert first.payload() == {
        "request_id": request_id,
        "sender_id": ana.id,
        "sender_username": "ana",
        "message": "Hi from the climbing gym",
    }
    assert isinstance(second, FriendRequestAccepted)
    assert second.payload() == {"user_id": ben.id, "username": "ben"}


async def test_crossed_requests_become_friends(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    assert (await request(client, ana, ben)).status_code == 201
    crossed = await request(client, ben, ana)
    assert crossed.status_code == 200
    assert crossed.json() == {"status": "friends", "request": None}
    assert await names(client, ana, "/api/v1/friends") == ["ben"]
    again = await request(client, ana, ben)
    assert again.status_code == 409
    assert again.json()["code"] == "already_friends"


async def test_duplicate_and_self_requests_are_refused(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    assert (await request(client, ana, ben)).status_code == 201
    dup = await request(client, ana, ben)
    assert dup.status_code == 409
    assert dup.json()["code"] == "request_exists"
    own = await request(client, ana, ana)
    assert own.status_code == 422
    assert own.json()["code"] == "self_action"
    ghost = await client.post(
        "/api/v1/friends/requests", headers=ana.headers, json={"username": "nobody_here"}
    )
    assert ghost.status_code == 404


async def test_requests_respect_allow_friend_requests(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await client.patch(
        "/api/v1/users/me", headers=ben.headers, json={"privacy": {"allow_friend_requests": False}}
    )
    refused = await request(client, ana, ben)
    assert refused.status_code == 403
    assert refused.json()["code"] == "friend_requests_closed"
    # ben can still ask ana
    assert (await request(client, ben, ana)).status_code == 201


async def test_decline_and_cancel(client, published):
    ana, ben, cy = [await register(client, n) for n in ("ana", "ben", "cyd")]
    first = (await request(client, ana, ben)).json()["request"]["id"]
    # only the receiver may decline or accept, only the sender cancel; others get 404
    for who, action in ((ana, "decline"), (cy, "decline"), (ana, "accept"), (cy, "accept")):
        reply = await client.post(f"/api/v1/friends/requests/{first}/{action}", headers=who.headers)
        assert reply.status_code == 404, (who.username, action)
    assert (
        await client.delete(f"/api/v1/friends/requests/{first}", headers=ben.headers)
    ).status_code == 404
    declined = await client.post(f"/api/v1/friends/requests/{first}/decline", headers=ben.headers)
    assert declined.status_code == 204
    assert await names(client, ben, "/api/v1/friends") == []
    # declined: gone, and the sender may ask again
    assert (
        await client.post(f"/api/v1/friends/requests/{first}/accept", headers=ben.headers)
    ).status_code == 404
    second = (await request(client, ana, ben)).json()["request"]["id"]
    cancelled = await client.delete(f"/api/v1/friends/requests/{second}", headers=ana.headers)
    assert cancelled.status_code == 204
    incoming = (await client.get("/api/v1/friends/requests/incoming", headers=ben.headers)).json()
    assert incoming["items"] == []
    # only the two request events, no acceptance
    assert [type(d.event) for d in published] == [FriendRequestReceived, FriendRequestReceived]


async def test_remove_friend(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await befriend(client, ana, ben)
    removed = await client.delete("/api/v1/friends/ben", headers=ana.headers)
    assert removed.status_code == 204
    assert await names(client, ana, "/api/v1/friends") == []
    assert await names(client, ben, "/api/v1/friends") == []
    again = await client.delete("/api/v1/friends/ben", headers=ana.headers)
    assert again.status_code == 404


async def test_friend_list_paginates_without_duplicates(client):
    hub = await register(client, "hub")
    others = [await register(client, f"pal{i}") for i in range(5)]
    for other in others:
        await befriend(client, hub, other)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/friends", headers=hub.headers, params=params)).json()
        seen += [item["username"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"pal{i}" for i in reversed(range(5))]
    bad = await client.get("/api/v1/friends", headers=hub.headers, params={"cursor": "garbage"})
    assert bad.status_code == 422


async def test_mutual_friends_and_suggestions(client):
    me, a, b, c, d, e = [
        await register(client, n) for n in ("meme", "aa1", "bb1", "cc1", "dd1", "ee1")
    ]
    # me - a, me - b; a - c, b - c (c: 2 mutuals); a - d (d: 1 mutual); e blocked by me
    for x, y in ((me, a), (me, b), (a, c), (b, c), (a, d), (a, e)):
        await befriend(client, x, y)
    assert await names(client, me, "/api/v1/users/cc1/mutual-friends") == ["bb1", "aa1"]
    await client.put("/api/v1/blocks/ee1", headers=me.headers)
    suggestions = (await client.get("/api/v1/friends/suggestions", headers=me.headers)).json()
    assert [(s["username"], s["mutual_friends"]) for s in suggestions] == [("cc1", 2), ("dd1", 1)]
    # pending requests and friends are not suggested
    await request(client, me, d)
    suggestions = (await client.get("/api/v1/friends/suggestions", headers=me.headers)).json()
    assert [s["username"] for s in suggestions] == ["cc1"]
    # shared follows count too
    f = await register(client, "ff1")
    await client.put("/api/v1/following/bb1", headers=f.headers)
    await client.put("/api/v1/following/bb1", headers=me.headers)
    suggestions = (await client.get("/api/v1/friends/suggestions", headers=me.headers)).json()
    assert [(s["username"], s["shared_follows"]) for s in suggestions] == [("cc1", 0), ("ff1", 1)]


async def test_other_users_lists_follow_profile_privacy(client):
    ana, ben, cy = [await register(client, n) for n in ("ana", "ben", "cyd")]
    await befriend(client, ana, ben)
    await client.patch(
        "/api/v1/users/me", headers=ana.headers, json={"privacy": {"profile_visibility": "friends"}}
    )
    assert (await client.get("/api/v1/users/ana/friends", headers=ben.headers)).status_code == 200
    assert (await client.get("/api/v1/users/ana/friends", headers=cy.headers)).status_code == 404
    assert (await client.get("/api/v1/users/ana/followers")).status_code == 404


async def test_relationship_view(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await request(client, ana, ben)
    await client.put("/api/v1/following/ben", headers=ana.headers)
    view = (await client.get("/api/v1/users/ben/relationship", headers=ana.headers)).json()
    assert view == {
        "is_friend": False,
        "is_following": True,
        "is_followed_by": False,
        "request_sent": True,
        "request_received": False,
        "is_blocking": False,
        "is_muting": False,
    }
    other = (await client.get("/api/v1/users/ana/relationship", headers=ben.headers)).json()
    assert other["request_received"] is True
    assert other["is_followed_by"] is True
