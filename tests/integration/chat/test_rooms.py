"""Rooms over REST: types, membership, roles, settings, permissions, blocks, room list."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.chat import BASE, people, room, send
from tests.helpers.events import events


async def befriend(client, a, b):
    for x, y in ((a, b), (b, a)):
        reply = await client.post(
            "/api/v1/friends/requests", json={"username": y.username}, headers=x.headers
        )
        assert reply.status_code in (200, 201), reply.text


async def allow_messages(client, who, value):
    reply = await client.patch(
        "/api/v1/users/me", json={"privacy": {"allow_messages": value}}, headers=who.headers
    )
    assert reply.status_code == 200, reply.text


async def test_direct_room_is_unique_per_pair(client, published):
    ana, ben = await register(client), await register(client)
    first = await client.post(
        f"{BASE}/rooms", json={"type": "direct", "member_ids": [ben.id]}, headers=ana.headers
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        f"{BASE}/rooms", json={"type": "direct", "memberIds": [ana.id]}, headers=ben.headers
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    body = first.json()
    assert body["type"] == "direct" and body["member_count"] == 2
    assert {m["user"]["id"] for m in body["members"]} == {ana.id, ben.id}
    created = events(published, "chat:room_updated")
    assert {r for d in created for r in d.rooms} == {f"user:{ana.id}", f"user:{ben.id}"}


async def test_direct_room_needs_exactly_one_other(client):
    ana, ben, cy = await register(client), await register(client), await register(client)
    for members in ([], [ben.id, cy.id], [ana.id]):
        reply = await client.post(
            f"{BASE}/rooms", json={"type": "direct", "member_ids": members}, headers=ana.headers
        )
        assert reply.status_code == 422, (members, reply.text)
    unknown = await client.post(
        f"{BASE}/rooms", json={"type": "direct", "member_ids": ["123"]}, headers=ana.headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_user"


async def test_allow_messages_and_blocks_gate_direct_rooms(client):
    ana, ben, cy = await register(client), await register(client), await register(client)
    await allow_messages(client, ben, "nobody")
    refused = await client.post(
        f"{BASE}/rooms", json={"type": "direct", "member_ids": [ben.id]}, headers=ana.headers
    )
    assert refused.status_code == 403 and refused.json()["code"] == "cannot_message"
    await allow_messages(client, ben, "friends")
    refused = await client.post(
        f"{BASE}/rooms", json={"type": "direct", "member_ids": [ben.id]}, headers=ana.headers
    )
    assert refused.status_code == 403
    await befriend(client, ana, ben)
    dm = await room(client, ana, "direct", ben)
    await send(client, ana, dm["id"], "hello friend")
    # a block either way stops messages in the existing room, and new rooms
    dm2 = await room(client, ana, "direct", cy)
    await client.put(f"/api/v1/blocks/{ana.username}", headers=cy.headers)
    blocked = await client.post(
        f"{BASE}/rooms/{dm2['id']}/messages", json={"message": "hi"}, headers=ana.headers
    )
    assert blocked.status_code == 403 and blocked.json()["code"] == "cannot_message"
    blocked = await client.post(
        f"{BASE}/rooms/{dm2['id']}/messages", json={"message": "hi"}, headers=cy.headers
    )
    assert blocked.status_code == 403
    group = await client.post(
        f"{BASE}/rooms",
        json={"type": "group", "name": "g", "member_ids": [cy.id]},
        headers=ana.headers,
    )
    assert group.status_code == 403


async def test_group_roles_add_remove_and_settings(client, published):
    owner, ben, cy, dee = await people(client, 4)
    g = await room(client, owner, "team", ben, description="the team")
    rid = g["id"]
    assert g["role"] == "admin" and g["description"] == "the team"
    # members cannot add people or change settings while add_policy is admins
    reply = await client.post(
        f"{BASE}/rooms/{rid}/members", json={"userId": cy.id}, headers=ben.headers
    )
    assert reply.status_code == 403
    reply = await client.patch(f"{BASE}/rooms/{rid}", json={"name": "x"}, headers=ben.headers)
    assert reply.status_code == 403
    reply = await client.post(
        f"{BASE}/rooms/{rid}/members", json={"user_id": cy.id}, headers=owner.headers
    )
    assert reply.status_code == 204
    reply = await client.patch(
        f"{BASE}/rooms/{rid}",
        json={"name": "Renamed", "addPolicy": "everyone", "post_policy": "admins"},
        headers=owner.headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["name"] == "Renamed" and reply.json()["member_count"] == 3
    # now anyone may add, but only admins may post
    reply = await client.post(
        f"{BASE}/rooms/{rid}/members", json={"user_id": dee.id}, headers=ben.headers
    )
    assert reply.status_code == 204
    reply = await client.post(
        f"{BASE}/rooms/{rid}/messages", json={"message": "hi"}, headers=ben.headers
    )
    assert reply.status_code == 403 and reply.json()["code"] == "posting_restricted"
    # promote ben, who may then post and remove dee
    reply = await client.put(
        f"{BASE}/rooms/{rid}/members/{ben.id}/role", json={"role": "admin"}, headers=owner.headers
    )
    assert reply.status_code == 204
    await send(client, ben, rid, "admin now")
    reply = await client.delete(f"{BASE}/rooms/{rid}/members/{dee.id}", headers=ben.headers)
    assert reply.status_code == 204
    reply = await client.get(f"{BASE}/rooms/{rid}", headers=dee.headers)
    assert reply.status_code == 404
    # cy (member) cannot remove or promote
    reply = await client.delete(f"{BASE}/rooms/{rid}/members/{ben.id}", headers=cy.headers)
    assert reply.status_code == 403
    # system notes for add, rename, add, remove in the history
    history = (await client.get(f"{BASE}/rooms/{rid}/messages", headers=owner.headers)).json()
    notes = [m["text"] for m in history["items"] if m["type"] == "system"]
    assert len(notes) == 4 and "renamed the room to Renamed" in notes[1]
    # demoting the last admin is refused
    await client.put(
        f"{BASE}/rooms/{rid}/members/{ben.id}/role", json={"role": "member"}, headers=owner.headers
    )
    reply = await client.put(
        f"{BASE}/rooms/{rid}/members/{owner.id}/role",
        json={"role": "member"},
        headers=owner.headers,
    )
    assert reply.status_code == 409 and reply.json()["code"] == "last_admin"


async def test_last_admin_leaving_promotes_longest_member(client):
    owner, first, second = await people(client, 3)
    g = await room(client, owner, "group", first)
    await client.post(
        f"{BASE}/rooms/{g['id']}/members", json={"user_id": second.id}, headers=owner.headers
    )
    reply = await client.post(f"{BASE}/rooms/{g['id']}/leave", headers=owner.headers)
    assert reply.status_code == 204
    view = (await client.get(f"{BASE}/rooms/{g['id']}", headers=first.headers)).json()
    roles = {m["user"]["id"]: m["role"] for m in view["members"]}
    assert roles == {first.id: "admin", second.id: "member"}
    assert (await client.get(f"{BASE}/rooms/{g['id']}", headers=owner.headers)).status_code == 404


async def test_public_rooms_are_joinable_others_are_not(client):
    owner, guest = await register(client), await register(client)
    pub = await room(client, owner, "public")
    priv = await room(client, owner, "group")
    peek = await client.get(f"{BASE}/rooms/{pub['id']}", headers=guest.headers)
    assert peek.status_code == 200 and peek.json()["is_member"] is False
    reply = await client.get(f"{BASE}/rooms/{pub['id']}/messages", headers=guest.headers)
    assert reply.status_code == 403 and reply.json()["code"] == "not_member"
    reply = await client.post(f"{BASE}/rooms/{pub['id']}/join", headers=guest.headers)
    assert reply.status_code == 200 and reply.json()["is_member"] is True
    assert reply.json()["role"] == "member"
    for path in ("", "/join", "/messages"):
        method = "POST" if path == "/join" else "GET"
        reply = await client.request(
            method, f"{BASE}/rooms/{priv['id']}{path}", headers=guest.headers
        )
        assert reply.status_code == 404, path


async def test_room_list_by_activity_with_preview_and_unread(client):
    ana, ben = await register(client), await register(client)
    r1 = await room(client, ana, "group", ben, name="one")
    r2 = await room(client, ana, "group", ben, name="two")
    await send(client, ana, r2["id"], "older")
    await send(client, ana, r1["id"], "<b>first</b> <script>x()</script>news")
    await send(client, ana, r1["id"], "second")
    await send(client, ben, r1["id"], "mine")
    listing = (await client.get(f"{BASE}/rooms", headers=ben.headers)).json()
    assert [r["name"] for r in listing["items"]] == ["one", "two"]
    first = listing["items"][0]
    assert first["last_message"]["text"] == "mine"
    # ben's own message does not count, and sending marks the room read up to it
    assert first["unread_count"] == 0
    assert listing["items"][1]["unread_count"] == 1
    ana_view = (await client.get(f"{BASE}/rooms", headers=ana.headers)).json()["items"][0]
    assert ana_view["unread_count"] == 1
    page = (await client.get(f"{BASE}/rooms?limit=1", headers=ben.headers)).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = (
        await client.get(f"{BASE}/rooms?limit=1&cursor={page['next_cursor']}", headers=ben.headers)
    ).json()
    assert [r["name"] for r in rest["items"]] == ["two"] and rest["next_cursor"] is None
    bad = await client.get(f"{BASE}/rooms?cursor=nonsense", headers=ben.headers)
    assert bad.status_code == 422


async def test_a_direct_room_left_comes_back_with_the_next_message(client):
    ana, ben = await people(client, 2)
    dm = await room(client, ana, "direct", ben)
    await send(client, ben, dm["id"], "bye for now")
    assert (
        await client.post(f"{BASE}/rooms/{dm['id']}/leave", headers=ben.headers)
    ).status_code == 204
    assert (await client.get(f"{BASE}/rooms", headers=ben.headers)).json()["items"] == []
    await send(client, ana, dm["id"], "you there?")
    (back,) = (await client.get(f"{BASE}/rooms", headers=ben.headers)).json()["items"]
    assert back["id"] == dm["id"] and back["unread_count"] == 1 and back["member_count"] == 2
    # and asking for the room again from the leaver's side gives the same conversation
    await client.post(f"{BASE}/rooms/{dm['id']}/leave", headers=ana.headers)
    again = await room(client, ana, "direct", ben)
    assert again["id"] == dm["id"] and again["member_count"] == 2
