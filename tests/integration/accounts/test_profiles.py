"""Profiles and every privacy setting, as seen by self, a stranger, anonymous, staff."""

from __future__ import annotations

import pytest

from tests.helpers.accounts import make_admin, register, set_role


async def patch_me(client, member, **body):
    return await client.patch("/api/v1/users/me", headers=member.headers, json=body)


async def test_update_profile_fields(client):
    member = await register(client, "profiler")
    reply = await patch_me(
        client,
        member,
        display_name="Pro Filer",
        bio="Hello there",
        location="Lisbon",
        social_links={"github": "https://github.com/profiler", "website": "https://pro.example"},
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["display_name"] == "Pro Filer"
    assert body["social_links"]["github"] == "https://github.com/profiler"
    assert body["stats"] == {
        "followers": 0,
        "following": 0,
        "posts": 0,
        "achievements": 0,
        "level": 1,
    }
    assert body["joined_at"].endswith(("Z", "+00:00"))
    # omitted fields keep their values
    again = await patch_me(client, member, bio="Changed")
    assert again.json()["display_name"] == "Pro Filer"
    assert again.json()["bio"] == "Changed"


@pytest.mark.parametrize(
    "body",
    [
        {"bio": "x" * 501},
        {"display_name": "y" * 61},
        {"location": 42},
        {"social_links": {"github": "javascript:alert(1)"}},
        {"social_links": {"Bad Key": "https://ok.example"}},
        {"social_links": {f"k{i}": "https://ok.example" for i in range(11)}},
        {"privacy": {"profile_visibility": "everyone"}},
        {"privacy": {"show_email": "sometimes"}},
        {"notifications": {"digest": "hourly"}},
        {"notifications": {"categories": {"unknown_category": True}}},
        {"notifications": {"timezone": "Mars/Olympus"}},
        {"bio": "bell\x07"},
        {"nickname": "extra field"},
    ],
)
async def test_bad_profile_updates_change_nothing(client, body):
    member = await register(client, "careful")
    before = (await client.get("/api/v1/users/me", headers=member.headers)).json()
    reply = await patch_me(client, member, **body)
    assert reply.status_code == 422
    assert reply.json()["code"] == "validation_failed"
    after = (await client.get("/api/v1/users/me", headers=member.headers)).json()
    assert after == before


async def test_notification_settings_partial_update(client):
    member = await register(client, "notified")
    reply = await patch_me(
        client,
        member,
        notifications={
            "categories": {"likes": False},
            "digest": "daily",
            "timezone": "Europe/Lisbon",
        },
    )
    assert reply.status_code == 200
    notifications = reply.json()["notifications"]
    assert notifications["categories"]["likes"] is False
    assert notifications["categories"]["comments"] is True
    assert notifications["digest"] == "daily"
    assert notifications["timezone"] == "Europe/Lisbon"
    again = await patch_me(client, member, notifications={"categories": {"comments": False}})
    categories = again.json()["notifications"]["categories"]
    assert categories["likes"] is False
    assert categories["comments"] is False


@pytest.fixture
async def cast(client):
    """An owner with location and bio, a stranger, a moderator and an admin."""
    owner = await register(client, "owner")
    await patch_me(client, owner, location="Porto", bio="Owner bio")
    stranger = await register(client, "stranger")
    moderator = await register(client, "moddy")
    await set_role(client, "moddy", "moderator")
    admin = await make_admin(client)
    return {"owner": owner, "stranger": stranger, "moderator": moderator, "admin": admin}


async def view(client, viewer, username="owner"):
    headers = viewer.headers if viewer is not None else {}
    return await client.get(f"/api/v1/users/{username}", headers=headers)


VIEWERS = ["owner", "stranger", "anonymous", "moderator", "admin"]


@pytest.mark.parametrize(
    ("visibility", "visible_to"),
    [
        ("public", {"owner", "stranger", "anonymous", "moderator", "admin"}),
        ("friends", {"owner", "moderator", "admin"}),
        ("private", {"owner", "moderator", "admin"}),
    ],
)
async def test_profile_visibility(client, cast, visibility, visible_to):
    await patch_me(client, cast["owner"], privacy={"profile_visibility": visibility})
    for name in VIEWERS:
        reply = await view(client, cast.get(name))
        expected = 200 if name in visible_to else 404
        assert reply.status_code == expected, (visibility, name)
        if expected == 404:
            # indistinguishable from a user that does not exist
            ghost = await view(client, cast.get(name), "no_such_user")
            assert reply.json()["code"] == ghost.json()["code"] == "not_found"
            assert reply.json()["detail"] == ghost.json()["detail"]


@pytest.mark.parametrize(
    ("setting", "field", "shown_to_when_off", "shown_to_when_on"),
    [
        ("show_email", "email", {"owner", "admin"}, set(VIEWERS)),
        ("show_location", "location", {"owner", "moderator", "admin"}, set(VIEWERS)),
        ("show_activity", "last_seen_at", {"owner", "admin"}, set(VIEWERS)),
    ],
)
async def test_field_visibility(client, cast, setting, field, shown_to_when_off, shown_to_when_on):
    for on, shown_to in ((False, shown_to_when_off), (True, shown_to_when_on)):
        await patch_me(client, cast["owner"], privacy={setting: on})
        for name in VIEWERS:
            body = (await view(client, cast.get(name))).json()
            assert (field in body) is (name in shown_to), (setting, on, name)


async def test_other_privacy_switches_are_stored(client, cast):
    reply = await patch_me(
        client,
        cast["owner"],
        privacy={
            "allow_friend_requests": False,
            "allow_messages": "friends",
            "show_online_status": False,
        },
    )
    privacy = reply.json()["privacy"]
    assert privacy["allow_friend_requests"] is False
    assert privacy["allow_messages"] == "friends"
    assert privacy["show_online_status"] is False
    # settings are the owner's business: not part of what others see
    assert "privacy" not in (await view(client, cast["stranger"])).json()


async def test_banned_profiles_are_hidden_from_non_staff(client, cast):
    await client.patch(
        "/api/v1/admin/users/owner", headers=cast["admin"].headers, json={"status": "banned"}
    )
    assert (await view(client, cast["stranger"])).status_code == 404
    assert (await view(client, None)).status_code == 404
    assert (await view(client, cast["moderator"])).status_code == 200


async def test_unknown_and_odd_usernames_are_404(client):
    for name in ("nobody", "x" * 30, "a.b", "DROP%20TABLE"):
        reply = await client.get(f"/api/v1/users/{name}")
        assert reply.status_code == 404, name
    assert (await client.get("/api/v1/users/" + "x" * 31)).status_code == 422


async def befriend(client, a, b):
    sent = await client.post(
        "/api/v1/friends/requests", headers=a.headers, json={"username": b.username}
    )
    request_id = sent.json()["request"]["id"]
    await client.post(f"/api/v1/friends/requests/{request_id}/accept", headers=b.headers)


async def test_friends_visibility_is_for_friends(client, cast):
    friend = await register(client, "pal_of_owner")
    await befriend(client, cast["owner"], friend)
    await patch_me(client, cast["owner"], privacy={"profile_visibility": "friends"})
    assert (await view(client, friend)).status_code == 200
    assert (await view(client, cast["stranger"])).status_code == 404
    assert (await view(client, None)).status_code == 404
    # a request alone is not friendship
    await client.post(
        "/api/v1/friends/requests", headers=cast["stranger"].headers, json={"username": "owner"}
    )
    assert (await view(client, cast["stranger"])).status_code == 404
    # ending the friendship ends the access
    await client.delete("/api/v1/friends/pal_of_owner", headers=cast["owner"].headers)
    assert (await view(client, friend)).status_code == 404


async def test_private_profiles_stay_hidden_from_friends(client, cast):
    friend = await register(client, "pal_of_owner")
    await befriend(client, cast["owner"], friend)
    await patch_me(client, cast["owner"], privacy={"profile_visibility": "private"})
    assert (await view(client, friend)).status_code == 404


async def test_blocks_hide_public_profiles_both_ways(client, cast):
    await client.put("/api/v1/blocks/stranger", headers=cast["owner"].headers)
    assert (await view(client, cast["stranger"])).status_code == 404
    assert (await view(client, cast["owner"], "stranger")).status_code == 404
    assert (await view(client, cast["moderator"])).status_code == 200
    assert (await view(client, None)).status_code == 200
