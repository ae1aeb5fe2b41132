"""Likes, comments, shares, views, reports and media, with exact counters under concurrency."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from tests.helpers.accounts import register, set_role
from tests.helpers.posts import go_online, png, post, upload
from tests.helpers.social import befriend
from townsquare.domains.posts.schemas import NewComment, PostCommented, PostShared


async def stats_of(client, member, pid):
    reply = await client.get(f"/api/v1/posts/{pid}", headers=member.headers)
    return reply.json()["stats"]


async def test_like_is_idempotent(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    pid = (await post(client, ana))["id"]
    for _ in range(3):
        reply = await client.put(f"/api/v1/posts/{pid}/like", headers=ben.headers)
        assert reply.json() == {"liked": True, "likes": 1}
    assert (await client.get(f"/api/v1/posts/{pid}", headers=ben.headers)).json()["liked_by_me"]
    for _ in range(2):
        reply = await client.delete(f"/api/v1/posts/{pid}/like", headers=ben.headers)
        assert reply.json() == {"liked": False, "likes": 0}


async def test_concurrent_likes_are_counted_exactly(client):
    author = await register(client, "author")
    pid = (await post(client, author))["id"]
    fans = [await register(client, f"fan{i}") for i in range(12)]
    replies = await asyncio.gather(
        *(
            client.put(f"/api/v1/posts/{pid}/like", headers=fan.headers)
            for fan in fans
            for _ in range(2)  # each fan double-clicks
        )
    )
    assert {r.status_code for r in replies} == {200}
    assert (await stats_of(client, author, pid))["likes"] == 12
    await asyncio.gather(
        *(client.delete(f"/api/v1/posts/{pid}/like", headers=fan.headers) for fan in fans[:5])
    )
    assert (await stats_of(client, author, pid))["likes"] == 7


async def test_comments_and_one_level_of_replies(client, published):
    ana, ben, cyd = [await register(client, n) for n in ("ana", "ben", "cyd")]
    await client.put("/api/v1/following/ana", headers=cyd.headers)
    await go_online(client, ana, cyd)
    pid = (await post(client, ana))["id"]
    published.clear()
    top = await client.post(
        f"/api/v1/posts/{pid}/comments",
        headers=ben.headers,
        json={"text": "<i>Nice</i><script>x</script>"},
    )
    assert top.status_code == 201
    top_id = top.json()["id"]
    assert top.json()["text"] == "<i>Nice</i>"
    reply = await client.post(
        f"/api/v1/posts/{pid}/comments",
        headers=ana.headers,
        json={"text": "thanks", "parent_id": top_id},
    )
    assert reply.status_code == 201
    deeper = await client.post(
        f"/api/v1/posts/{pid}/comments",
        headers=ben.headers,
        json={"text": "too deep", "parent_id": reply.json()["id"]},
    )
    assert deeper.status_code == 422
    assert deeper.json()["code"] == "reply_depth"
    listed = (await client.get(f"/api/v1/posts/{pid}/comments")).json()
    assert [(c["text"], c["replies"]) for c in listed["items"]] == [("<i>Nice</i>", 1)]
    replies = (await client.get(f"/api/v1/comments/{top_id}/replies")).json()
    assert [c["text"] for c in replies["items"]] == ["thanks"]
    assert (await stats_of(client, ana, pid))["comments"] == 2
    # events: ben's comment tells ana, and reaches the post's live audience
    kinds = [(type(d.event), d.rooms) for d in published[:2]]
    assert kinds[0] == (PostCommented, (f"user:{ana.id}",))
    assert kinds[1][0] is NewComment
    assert set(kinds[1][1]) == {f"feed:{ana.id}:general", f"feed:{cyd.id}:following:general"}
    # edit: only the author
    assert (
        await client.patch(f"/api/v1/comments/{top_id}", headers=ana.headers, json={"text": "x"})
    ).status_code == 404
    edited = await client.patch(
        f"/api/v1/comments/{top_id}", headers=ben.headers, json={"text": "Very nice"}
    )
    assert edited.json()["is_edited"] is True
    # the post's author may delete a comment; its replies go with it
    assert (
        await client.delete(f"/api/v1/comments/{top_id}", headers=cyd.headers)
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/comments/{top_id}", headers=ana.headers)
    ).status_code == 204
    assert (await stats_of(client, ana, pid))["comments"] == 0


async def test_comments_from_blocked_and_muted_users_are_hidden(client):
    ana, ben, cyd = [await register(client, n) for n in ("ana", "ben", "cyd")]
    pid = (await post(client, ana))["id"]
    for who in (ben, cyd):
        await client.post(
            f"/api/v1/posts/{pid}/comments",
            headers=who.headers,
            json={"text": f"by {who.username}"},
        )
    viewer = await register(client, "viewer")
    await client.put("/api/v1/blocks/ben", headers=viewer.headers)
    await client.put("/api/v1/mutes/cyd", headers=viewer.headers)
    listed = (await client.get(f"/api/v1/posts/{pid}/comments", headers=viewer.headers)).json()
    assert listed["items"] == []
    everyone = (await client.get(f"/api/v1/posts/{pid}/comments")).json()
    assert len(everyone["items"]) == 2


async def test_shares(client, published):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    pid = (await post(client, ana, "share me"))["id"]
    published.clear()
    shared = await client.post(
        f"/api/v1/posts/{pid}/share", headers=ben.headers, json={"message": "look"}
    )
    assert shared.status_code == 201
    body = shared.json()
    assert body["shared_post"]["id"] == pid
    assert body["text"] == "look"
    assert (await stats_of(client, ana, pid))["shares"] == 1
    assert any(
        isinstance(d.event, PostShared) and d.rooms == (f"user:{ana.id}",) for d in published
    )
    # a share of a share shares the original
    again = await client.post(f"/api/v1/posts/{body['id']}/share", headers=ana.headers, json={})
    assert again.json()["shared_post"]["id"] == pid
    assert (await stats_of(client, ana, pid))["shares"] == 2
    await client.delete(f"/api/v1/posts/{body['id']}", headers=ben.headers)
    assert (await stats_of(client, ana, pid))["shares"] == 1
    private = (await post(client, ana, "friends only", privacy="friends"))["id"]
    await befriend(client, ana, ben)
    refused = await client.post(f"/api/v1/posts/{private}/share", headers=ben.headers, json={})
    assert refused.status_code == 422
    assert refused.json()["code"] == "not_shareable"


async def test_views_count_once_per_user_per_day(client):
    ana, ben, cyd = [await register(client, n) for n in ("ana", "ben", "cyd")]
    pid = (await post(client, ana))["id"]
    first = await client.post(f"/api/v1/posts/{pid}/view", headers=ben.headers)
    assert first.json() == {"counted": True, "views": 1}
    again = await client.post(f"/api/v1/posts/{pid}/view", headers=ben.headers)
    assert again.json() == {"counted": False, "views": 1}
    own = await client.post(f"/api/v1/posts/{pid}/view", headers=ana.headers)
    assert own.json() == {"counted": False, "views": 1}
    await asyncio.gather(
        *(client.post(f"/api/v1/posts/{pid}/view", headers=cyd.headers) for _ in range(5))
    )
    assert (await stats_of(client, ana, pid))["views"] == 2


async def test_reports_are_stored_once(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    pid = (await post(client, ana))["id"]
    reply = await client.post(
        f"/api/v1/posts/{pid}/report",
        headers=ben.headers,
        json={"reason": "spam", "severity": "high", "details": "ads"},
    )
    assert reply.status_code == 201
    assert reply.json()["status"] == "open"
    dup = await client.post(
        f"/api/v1/posts/{pid}/report", headers=ben.headers, json={"reason": "spam"}
    )
    assert dup.status_code == 409
    own = await client.post(
        f"/api/v1/posts/{pid}/report", headers=ana.headers, json={"reason": "spam"}
    )
    assert own.status_code == 422
    bad = await client.post(
        f"/api/v1/posts/{pid}/report", headers=ana.headers, json={"reason": "meh"}
    )
    assert bad.status_code == 422


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (20, 10)).save(out, format="GIF")
    return out.getvalue()


async def test_media_upload_and_attachment(client):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    image = await upload(client, ana, png())
    assert image.status_code == 201, image.text
    body = image.json()
    assert body["kind"] == "image"
    assert (body["width"], body["height"]) == (640, 480)
    assert body["thumbnail_url"].startswith("/media/posts/")
    thumb = await client.get(body["thumbnail_url"])
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert max(small.size) == 320
    animated = (await upload(client, ana, gif())).json()
    assert animated["kind"] == "gif"
    video = await upload(client, ana, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    assert video.json()["kind"] == "video"
    junk = await upload(client, ana, b"not an image at all")
    assert junk.status_code == 415
    empty = await upload(client, ana, b"")
    assert empty.status_code == 400
    created = await post(client, ana, "with media", media_ids=[body["id"], animated["id"]])
    assert [m["kind"] for m in created["media"]] == ["image", "gif"]
    # an upload attaches once, and only its owner may attach it
    again = await client.post(
        "/api/v1/posts", headers=ana.headers, json={"text": "again", "media_ids": [body["id"]]}
    )
    assert again.status_code == 422
    stolen = await client.post(
        "/api/v1/posts",
        headers=ben.headers,
        json={"text": "mine", "media_ids": [video.json()["id"]]},
    )
    assert stolen.status_code == 422
    media_only = await post(client, ana, "", media_ids=[video.json()["id"]])
    assert media_only["media"][0]["kind"] == "video"


async def test_moderators_see_private_posts(client):
    ana = await register(client, "ana")
    mod = await register(client, "modd")
    await set_role(client, "modd", "moderator")
    pid = (await post(client, ana, "private", privacy="private"))["id"]
    assert (await client.get(f"/api/v1/posts/{pid}", headers=mod.headers)).status_code == 200


async def test_muted_users_activity_is_not_told(client, published):
    ana, ben = await register(client, "ana"), await register(client, "ben")
    await client.put("/api/v1/mutes/ben", headers=ana.headers)
    await client.put("/api/v1/following/ben", headers=ana.headers)
    await go_online(client, ana, ben)
    pid = (await post(client, ana, "quiet please"))["id"]
    published.clear()
    await client.post(f"/api/v1/posts/{pid}/comments", headers=ben.headers, json={"text": "hey"})
    await client.post(f"/api/v1/posts/{pid}/share", headers=ben.headers, json={})
    await post(client, ben, "hello @ana")
    await client.put("/api/v1/following/ana", headers=ben.headers)
    told_ana = [d for d in published if f"user:{ana.id}" in d.rooms]
    assert told_ana == []
    assert all(not any(r.startswith(f"feed:{ana.id}:") for r in d.rooms) for d in published)
    # the actions themselves happened
    assert (await client.get(f"/api/v1/posts/{pid}", headers=ana.headers)).json()["stats"][
        "comments"
    ] == 1
