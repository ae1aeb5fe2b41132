"""Each trigger in the social graph and posts notifies the right people, through the real API.

The social and posts actions call `notifications.actions.notify` (the wiring is listed in
docs/decisions/0302-notification-delivery.md).
"""

from __future__ import annotations

from typing import Any

from tests.helpers.accounts import Member, register
from tests.helpers.app import app_ctx
from tests.helpers.gateway import until
from townsquare.domains.posts import jobs as posts_jobs

LIST = "/api/v1/realtime/notifications"


async def inbox(client: Any, who: Member) -> list[dict[str, Any]]:
    reply = await client.get(LIST, headers=who.headers)
    assert reply.status_code == 200
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def test_friend_request_and_acceptance(client):
    ana = await register(client, "anat")
    ben = await register(client, "bent")
    sent = await client.post(
        "/api/v1/friends/requests", headers=ana.headers, json={"username": "bent", "message": "hi"}
    )
    assert sent.status_code == 201
    [request] = await inbox(client, ben)
    assert (request["type"], request["title"], request["message"]) == (
        "friend_request",
        "anat sent you a friend request",
        "hi",
    )
    assert await inbox(client, ana) == []
    request_id = sent.json()["request"]["id"]
    accepted = await client.post(
        f"/api/v1/friends/requests/{request_id}/accept", headers=ben.headers
    )
    assert accepted.status_code == 204
    [note] = await inbox(client, ana)
    assert (note["type"], note["title"]) == ("friend_accepted", "bent accepted your friend request")


async def test_follows_group_and_new_posts_reach_followers(client):
    star = await register(client, "start")
    fans = [await register(client, f"fant{i}") for i in range(3)]
    for fan in fans:
        assert (await client.put("/api/v1/following/start", headers=fan.headers)).status_code == 204
    await client.put("/api/v1/following/start", headers=fans[0].headers)  # again: nothing new
    [follows] = await inbox(client, star)
    assert (follows["type"], follows["count"]) == ("follow", 3)
    assert follows["title"] == "fant2 and 2 others started following you"
    post = await client.post("/api/v1/posts", headers=star.headers, json={"text": "hello fans"})
    assert post.status_code == 201
    for fan in fans:  # told by a job right after the post is stored

        async def told(fan=fan):
            return len(await inbox(client, fan)) == 1

        await until(told)
        [new] = await inbox(client, fan)
        assert (new["type"], new["target_id"]) == ("new_post", post.json()["id"])
    # the job again (a retry) tells nobody twice
    await posts_jobs.notify_followers(app_ctx(client), {"post_id": post.json()["id"]})
    for fan in fans:
        assert len(await inbox(client, fan)) == 1
    # a private post tells nobody: only the public one after it arrives
    await client.post(
        "/api/v1/posts", headers=star.headers, json={"text": "diary", "privacy": "private"}
    )
    later = await client.post("/api/v1/posts", headers=star.headers, json={"text": "again"})

    async def second():
        return len(await inbox(client, fans[0])) >= 2

    await until(second)
    targets = [n["target_id"] for n in await inbox(client, fans[0])]
    assert sorted(targets) == sorted([post.json()["id"], later.json()["id"]])


async def test_likes_comments_replies_shares_and_mentions(client):
    ana = await register(client, "anap")
    ben = await register(client, "benp")
    cy = await register(client, "cyp")
    post = (
        await client.post("/api/v1/posts", headers=ana.headers, json={"text": "my post"})
    ).json()
    pid = post["id"]
    for fan in (ben, cy):
        assert (
            await client.put(f"/api/v1/posts/{pid}/like", headers=fan.headers)
        ).status_code == 200
    comment = await client.post(
        f"/api/v1/posts/{pid}/comments", headers=ben.headers, json={"text": "nice"}
    )
    assert comment.status_code == 201
    reply = await client.post(
        f"/api/v1/posts/{pid}/comments",
        headers=cy.headers,
        json={"text": "agreed", "parent_id": comment.json()["id"]},
    )
    assert reply.status_code == 201
    shared = await client.post(f"/api/v1/posts/{pid}/share", headers=cy.headers, json={})
    assert shared.status_code == 201
    mention = await client.post("/api/v1/posts", headers=ben.headers, json={"text": "hey @anap"})
    assert mention.status_code == 201

    mine = {n["type"]: n for n in await inbox(client, ana)}
    assert mine["like"]["count"] == 2 and mine["like"]["title"] == "cyp and benp liked your post"
    assert mine["comment"]["message"] == "nice"
    assert mine["comment"]["data"] == {"comment_id": comment.json()["id"]}
    assert mine["share"]["title"] == "cyp shared your post"
    assert mine["mention"]["title"] == "benp mentioned you in a post"
    assert mine["mention"]["target_id"] == mention.json()["id"]
    # cy's reply tells ben (the parent's author) as a reply, and ana as a comment on her post
    assert [n["type"] for n in await inbox(client, ben) if n["type"] == "reply"] == ["reply"]
    assert sorted(n["type"] for n in await inbox(client, ana) if n["type"] == "comment") == [
        "comment",
        "comment",
    ]


async def test_muted_and_blocked_users_trigger_nothing(client):
    ana = await register(client, "anam")
    pest = await register(client, "pestm")
    await client.put("/api/v1/mutes/pestm", headers=ana.headers)
    await client.put("/api/v1/following/anam", headers=pest.headers)
    post = (await client.post("/api/v1/posts", headers=ana.headers, json={"text": "x"})).json()
    await client.put(f"/api/v1/posts/{post['id']}/like", headers=pest.headers)
    await client.post(
        f"/api/v1/posts/{post['id']}/comments", headers=pest.headers, json={"text": "hm"}
    )
    assert await inbox(client, ana) == []
