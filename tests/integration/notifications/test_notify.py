"""The notify service: storage, live events, grouping, switches, mutes and blocks, read state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.helpers.accounts import make_admin, register
from tests.helpers.app import app_ctx
from tests.helpers.events import events
from tests.helpers.notifications import notify
from townsquare.core.clock import utcnow
from townsquare.domains.notifications import actions
from townsquare.domains.notifications.actions import Target, first_id_at
from townsquare.domains.notifications.models import Notification
from townsquare.domains.notifications.schemas import NotificationNew, NotificationUpdated

LIST = "/api/v1/realtime/notifications"


async def test_a_notification_is_stored_listed_and_told_live(client, published):
    ana = await register(client, "ana")
    ben = await register(client, "ben")
    row = await notify(
        client,
        recipient_id=ana.id,
        type="comment",
        actor_id=ben.id,
        target=Target("post", 42),
        message="Nice one!",
        data={"post_id": "42"},
    )
    assert row is not None
    new = events(published, "notification:new")
    assert [d.rooms for d in new] == [(f"user:{ana.id}",)]
    event = new[0].event
    assert isinstance(event, NotificationNew)
    body = event.payload()["notification"]
    assert body["id"] == str(row.id)
    assert body["title"] == "ben commented on your post"
    assert body["message"] == "Nice one!"
    assert body["actor"] == {"id": ben.id, "username": "ben", "display_name": None}
    assert body["category"] == "comments" and body["priority"] == "normal"
    assert body["target_type"] == "post" and body["target_id"] == "42"

    page = (await client.get(LIST, headers=ana.headers)).json()
    assert [n["id"] for n in page["items"]] == [str(row.id)]
    assert page["items"][0]["read"] is False
    count = (await client.get(f"{LIST}/unread-count", headers=ana.headers)).json()
    assert count == {"unread_count": 1}
    # nobody else sees it
    assert (await client.get(LIST, headers=ben.headers)).json()["items"] == []


async def test_each_type_has_its_category_and_title(client):
    ana = await register(client)
    ben = await register(client, "benny")
    expected = {
        "friend_request": ("friend_requests", "benny sent you a friend request"),
        "friend_accepted": ("friend_requests", "benny accepted your friend request"),
        "follow": ("follows", "benny started following you"),
        "like": ("likes", "benny liked your post"),
        "comment": ("comments", "benny commented on your post"),
        "reply": ("comments", "benny replied to your comment"),
        "share": ("shares", "benny shared your post"),
        "mention": ("mentions", "benny mentioned you in a post"),
        "message": ("messages", "benny sent you a message"),
        "new_post": ("follows", "benny posted something new"),
    }
    for n, kind in enumerate(expected):
        row = await notify(
            client, recipient_id=ana.id, type=kind, actor_id=ben.id, target=Target("post", n + 1)
        )
        assert row is not None, kind
        assert (row.category, row.title) == expected[kind]
    with pytest.raises(ValueError, match="unknown notification type"):
        await notify(client, recipient_id=ana.id, type="nonsense", actor_id=ben.id)


async def test_nobody_is_notified_of_their_own_doing(client, published):
    ana = await register(client)
    assert await notify(client, recipient_id=ana.id, type="like", actor_id=ana.id) is None
    assert published == []


async def test_likes_on_one_post_group_into_one_entry_updated_in_place(client, published):
    ana = await register(client)
    fans = [await register(client, f"fan{i}") for i in range(4)]
    for fan in fans:
        await notify(
            client, recipient_id=ana.id, type="like", actor_id=fan.id, target=Target("post", 7)
        )
    # the same fan again adds nothing
    await notify(
        client, recipient_id=ana.id, type="like", actor_id=fans[-1].id, target=Target("post", 7)
    )
    items = (await client.get(LIST, headers=ana.headers)).json()["items"]
    assert len(items) == 1
    entry = items[0]
    assert entry["count"] == 4
    assert entry["title"] == "fan3 and 3 others liked your post"
    assert [a["username"] for a in entry["actors"]] == ["fan3", "fan2", "fan1"]
    assert len(events(published, "notification:new")) == 1
    updates = events(published, "notification:updated")
    assert len(updates) == 3
    assert all(isinstance(d.event, NotificationUpdated) for d in updates)
    assert [d.event.payload()["notification"]["count"] for d in updates] == [2, 3, 4]
    assert {d.event.payload()["notification"]["id"] for d in updates} == {entry["id"]}
    assert updates[0].event.payload()["notification"]["title"] == "fan1 and fan0 liked your post"

    # another post is another group; once read, a new like starts a new entry
    await notify(
        client, recipient_id=ana.id, type="like", actor_id=fans[0].id, target=Target("post", 8)
    )
    await client.put(f"{LIST}/read", headers=ana.headers, json={"notificationIds": [entry["id"]]})
    await notify(
        client, recipient_id=ana.id, type="like", actor_id=fans[1].id, target=Target("post", 7)
    )
    items = (await client.get(LIST, headers=ana.headers)).json()["items"]
    assert [(i["target_id"], i["count"], i["read"]) for i in items] == [
        ("7", 1, False),
        ("8", 1, False),
        ("7", 4, True),
    ]


async def test_a_group_closes_after_its_window(client):
    ana = await register(client)
    a, b = await register(client), await register(client)
    first = await notify(
        client, recipient_id=ana.id, type="share", actor_id=a.id, target=Target("post", 1)
    )
    assert first is not None
    async with app_ctx(client).db.transaction() as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == first.id)
            .values(updated_at=utcnow() - timedelta(hours=2))
        )
    second = await notify(
        client, recipient_id=ana.id, type="share", actor_id=b.id, target=Target("post", 1)
    )
    assert second is not None and second.id != first.id and second.group_count == 1


async def test_follows_group_per_recipient(client):
    ana = await register(client)
    followers = [await register(client) for _ in range(3)]
    for f in followers:
        await client.put(f"/api/v1/following/{ana.username}", headers=f.headers)
        await notify(
            client,
            recipient_id=ana.id,
            type="follow",
            actor_id=f.id,
            target=Target("user", int(ana.id)),
        )
    items = (await client.get(LIST, headers=ana.headers)).json()["items"]
    assert len(items) == 1 and items[0]["count"] == 3
    assert items[0]["title"].endswith("and 2 others started following you")


async def test_a_switched_off_category_stores_nothing(client, published):
    ana = await register(client)
    ben = await register(client)
    reply = await client.patch(
        "/api/v1/users/me",
        headers=ana.headers,
        json={"notifications": {"categories": {"likes": False}}},
    )
    assert reply.status_code == 200
    assert (
        await notify(
            client, recipient_id=ana.id, type="like", actor_id=ben.id, target=Target("post", 1)
        )
        is None
    )
    assert await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id) is not None
    assert len(events(published, "notification:new")) == 1


async def test_in_app_off_keeps_it_out_of_the_list_and_off_the_socket(client, published):
    ana = await register(client)
    ben = await register(client)
    reply = await client.put(
        "/api/v1/notifications/preferences",
        headers=ana.headers,
        json={"categories": {"comments": {"in_app": False}}},
    )
    assert reply.status_code == 200
    assert reply.json()["categories"]["comments"] == {"in_app": False, "push": True, "email": False}
    row = await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    assert row is not None and row.in_app is False  # kept for push delivery
    assert events(published, "notification:new") == []
    assert (await client.get(LIST, headers=ana.headers)).json()["items"] == []
    # every channel off: nothing at all
    await client.put(
        "/api/v1/notifications/preferences",
        headers=ana.headers,
        json={"categories": {"comments": {"push": False}}},
    )
    assert await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id) is None


async def test_muted_and_blocked_users_never_notify(client, published):
    ana = await register(client)
    muted = await register(client)
    blocked = await register(client)
    blocker = await register(client)
    assert (
        await client.put(f"/api/v1/mutes/{muted.username}", headers=ana.headers)
    ).status_code == 204
    assert (
        await client.put(f"/api/v1/blocks/{blocked.username}", headers=ana.headers)
    ).status_code == 204
    assert (
        await client.put(f"/api/v1/blocks/{ana.username}", headers=blocker.headers)
    ).status_code == 204
    for someone in (muted, blocked, blocker):
        assert (
            await notify(client, recipient_id=ana.id, type="comment", actor_id=someone.id) is None
        )
    # the mute is one way: ana still notifies the muted user
    assert await notify(client, recipient_id=muted.id, type="comment", actor_id=ana.id) is not None
    async with app_ctx(client).db.transaction() as session:
        count = await actions.notify_many(
            session,
            recipient_ids=[int(ana.id), int(muted.id), int(blocked.id)],
            type="new_post",
            actor_id=int(blocker.id),
        )
    assert count == 2  # ana blocked... no: blocker blocked ana; muted and blocked hear it
    assert [d.rooms for d in events(published, "notification:new")][-2:] == [
        (f"user:{muted.id}",),
        (f"user:{blocked.id}",),
    ]


async def test_a_rolled_back_action_leaves_no_notification(client, published):
    ana = await register(client)
    ben = await register(client)

    async def failing() -> None:
        async with app_ctx(client).db.transaction() as session:
            await actions.notify(
                session, recipient_id=int(ana.id), type="comment", actor_id=int(ben.id)
            )
            raise RuntimeError("the comment failed")

    with pytest.raises(RuntimeError):
        await failing()
    assert published == []
    assert (await client.get(LIST, headers=ana.headers)).json()["items"] == []
    await app_ctx(client).jobs.idle()
    assert (await app_ctx(client).jobs.counts())["dead"] == 0


async def test_mark_read_tells_every_device_the_new_count(client, published):
    ana = await register(client)
    ben = await register(client)
    other = await register(client)
    rows = [
        await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id) for _ in range(3)
    ]
    theirs = await notify(client, recipient_id=other.id, type="comment", actor_id=ben.id)
    assert theirs is not None and all(rows)
    ids = [str(r.id) for r in rows if r]
    published.clear()
    reply = await client.put(
        f"{LIST}/read", headers=ana.headers, json={"notificationIds": [ids[0], str(theirs.id)]}
    )
    assert reply.status_code == 200
    assert reply.json() == {"marked": 1, "unread_count": 2}
    read = events(published, "notification:read")
    assert [d.rooms for d in read] == [(f"user:{ana.id}",)]
    assert read[0].event.payload() == {
        "notification_ids": [ids[0]],
        "all": False,
        "unread_count": 2,
    }
    # someone else's notification is untouched
    other_count = (await client.get(f"{LIST}/unread-count", headers=other.headers)).json()
    assert other_count == {"unread_count": 1}
    # again: nothing to mark, nothing told
    published.clear()
    again = await client.put(
        f"{LIST}/read", headers=ana.headers, json={"notification_ids": [ids[0]]}
    )
    assert again.json() == {"marked": 0, "unread_count": 2}
    assert published == []
    everything = await client.put(f"{LIST}/read-all", headers=ana.headers)
    assert everything.json() == {"marked": 2, "unread_count": 0}
    assert events(published, "notification:read")[0].event.payload()["all"] is True
    unread = (await client.get(LIST, headers=ana.headers, params={"unread_only": True})).json()
    assert unread["items"] == []


async def test_mark_read_refuses_bad_bodies(client):
    ana = await register(client)
    for body in (
        {},
        {"notificationIds": []},
        {"notificationIds": ["x"]},
        {"notificationIds": [1] * 201},
    ):
        reply = await client.put(f"{LIST}/read", headers=ana.headers, json=body)
        assert reply.status_code == 422, body
    assert (await client.put(f"{LIST}/read", json={"notificationIds": [1]})).status_code == 401


async def test_the_list_pages_by_cursor_and_filters_unread(client):
    ana = await register(client)
    ben = await register(client)
    rows = [
        await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id) for _ in range(5)
    ]
    ids = [str(r.id) for r in rows if r][::-1]
    first = (await client.get(LIST, headers=ana.headers, params={"limit": 2})).json()
    assert [i["id"] for i in first["items"]] == ids[:2]
    second = (
        await client.get(
            LIST, headers=ana.headers, params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [i["id"] for i in second["items"]] == ids[2:4]
    third = (
        await client.get(
            LIST, headers=ana.headers, params={"limit": 2, "cursor": second["next_cursor"]}
        )
    ).json()
    assert [i["id"] for i in third["items"]] == ids[4:] and third["next_cursor"] is None
    await client.put(f"{LIST}/read", headers=ana.headers, json={"notificationIds": ids[:2]})
    unread = (await client.get(LIST, headers=ana.headers, params={"unread_only": "true"})).json()
    assert [i["id"] for i in unread["items"]] == ids[2:]
    bad = await client.get(LIST, headers=ana.headers, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"


async def test_expired_and_old_read_notifications_are_cleaned_up(client):
    ana = await register(client)
    ben = await register(client)
    expired = await notify(
        client,
        recipient_id=ana.id,
        type="comment",
        actor_id=ben.id,
        expires_at=utcnow() - timedelta(minutes=1),
    )
    old_read = await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    recent_read = await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    unread = await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
    assert expired and old_read and recent_read and unread
    # an expired one is not listed even before the cleanup runs
    listed = {i["id"] for i in (await client.get(LIST, headers=ana.headers)).json()["items"]}
    assert str(expired.id) not in listed
    ctx = app_ctx(client)
    long_ago = utcnow() - timedelta(days=91)
    old_id = first_id_at(long_ago) + 7  # made 91 days ago: ids are time-sortable
    async with ctx.db.transaction() as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == old_read.id)
            .values(id=old_id, created_at=long_ago, updated_at=long_ago, read_at=long_ago)
        )
        await session.execute(
            update(Notification)
            .where(Notification.id == recent_read.id)
            .values(read_at=utcnow() - timedelta(days=89))
        )
    await ctx.jobs.enqueue("notifications.cleanup")
    await ctx.jobs.idle()
    async with ctx.db.read() as session:
        left = set((await session.execute(select(Notification.id))).scalars())
    assert left == {recent_read.id, unread.id}


async def test_admins_announce_to_every_active_user(client, published):
    admin = await make_admin(client)
    members = [await register(client) for _ in range(3)]
    refused = await client.post(
        "/api/v1/admin/notifications/announcements", headers=members[0].headers, json={"title": "x"}
    )
    assert refused.status_code == 403
    reply = await client.post(
        "/api/v1/admin/notifications/announcements",
        headers=admin.headers,
        json={
            "title": "Maintenance tonight",
            "message": "From 02:00 UTC",
            "priority": "high",
            "expires_in_hours": 12,
        },
    )
    assert reply.status_code == 202
    await app_ctx(client).jobs.idle()
    for someone in (admin, *members):
        items = (await client.get(LIST, headers=someone.headers)).json()["items"]
        assert [(i["type"], i["title"], i["message"], i["priority"]) for i in items] == [
            ("announcement", "Maintenance tonight", "From 02:00 UTC", "high")
        ]
        assert items[0]["expires_at"] is not None and items[0]["actor"] is None
    assert len(events(published, "notification:new")) == 4


async def test_preferences_default_update_and_validate(client):
    ana = await register(client)
    url = "/api/v1/notifications/preferences"
    prefs = (await client.get(url, headers=ana.headers)).json()
    assert prefs["categories"]["likes"] == {"in_app": True, "push": True, "email": False}
    assert prefs["categories"]["friend_requests"] == {"in_app": True, "push": True, "email": True}
    assert (
        prefs["quiet_hours"] is None and prefs["digest"] == "weekly" and prefs["timezone"] == "UTC"
    )
    assert prefs["category_enabled"]["likes"] is True
    reply = await client.put(
        url,
        headers=ana.headers,
        json={
            "categories": {"likes": {"email": True}},
            "quiet_hours": {"start": "22:30", "end": "07:00"},
        },
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["categories"]["likes"] == {"in_app": True, "push": True, "email": True}
    assert body["quiet_hours"] == {"start": "22:30", "end": "07:00"}
    # omitted parts stay; null switches quiet hours off
    body = (await client.put(url, headers=ana.headers, json={"categories": {}})).json()
    assert body["quiet_hours"] == {"start": "22:30", "end": "07:00"}
    body = (await client.put(url, headers=ana.headers, json={"quiet_hours": None})).json()
    assert body["quiet_hours"] is None
    assert body["categories"]["likes"]["email"] is True
    for bad in (
        {"categories": {"nope": {"push": False}}},
        {"categories": {"likes": {"pigeon": True}}},
        {"quiet_hours": {"start": "25:00", "end": "07:00"}},
        {"quiet_hours": {"start": "07:00", "end": "07:00"}},
        {"quiet_hours": {"start": "07:00"}},
    ):
        refused = await client.put(url, headers=ana.headers, json=bad)
        assert refused.status_code == 422, bad
