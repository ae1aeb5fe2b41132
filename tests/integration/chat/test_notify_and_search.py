"""Members who are away get a notification unless they read in time; search stays inside the
rooms a user belongs to and, where history is hidden, inside what they could read."""

from __future__ import annotations

from tests.helpers.app import app_ctx
from tests.helpers.chat import BASE, CHAT_SETTINGS, Device, people, room, send
from tests.helpers.gateway import until
from townsquare.domains.chat import jobs as chat_jobs


async def notifications(client, who):
    reply = await client.get("/api/v1/realtime/notifications", headers=who.headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]


async def test_away_members_are_notified_after_the_delay(client, gateway_url):
    ana, away, online = await people(client, 3)
    g = await room(client, ana, "group", away, online)
    device = await Device().connect(gateway_url, online)
    try:
        m = await send(client, ana, g["id"], "are you there?")

        async def notified():
            return await notifications(client, away)

        await until(notified)
        (item,) = await notifications(client, away)
        assert item["type"] == "message" and item["data"]["room_id"] == g["id"]
        assert item["data"]["message_id"] == m["id"] and item["message"] == "are you there?"
        # the same job handled every member: the connected one got nothing
        assert await notifications(client, online) == []
        assert await notifications(client, ana) == []
    finally:
        await device.close()


async def test_reading_within_the_delay_prevents_the_notification(make_client):
    async with make_client(**{**CHAT_SETTINGS, "chat_notify_delay_seconds": 3600}) as client:
        ana, reader, late = await people(client, 3)
        g = await room(client, ana, "group", reader, late)
        m = await send(client, ana, g["id"], "quick one")
        await client.post(
            f"{BASE}/rooms/{g['id']}/read", json={"messageId": m["id"]}, headers=reader.headers
        )
        # run the delayed job now rather than waiting an hour for it
        await chat_jobs.notify_unread(app_ctx(client), {"message_id": m["id"]})
        assert await notifications(client, reader) == []
        assert [n["type"] for n in await notifications(client, late)] == ["message"]
        # a deleted message notifies nobody
        gone = await send(client, ana, g["id"], "never mind")
        await client.delete(f"{BASE}/messages/{gone['id']}", headers=ana.headers)
        await chat_jobs.notify_unread(app_ctx(client), {"message_id": gone["id"]})
        assert len(await notifications(client, late)) == 1


async def test_large_rooms_notify_only_mentioned_members(make_client):
    async with make_client(
        **{**CHAT_SETTINGS, "chat_notify_max_room_size": 2, "chat_notify_delay_seconds": 3600}
    ) as client:
        ana, named, other = await people(client, 3)
        g = await room(client, ana, "group", named, other)
        m = await send(client, ana, g["id"], f"hey @{named.username}")
        await chat_jobs.notify_unread(app_ctx(client), {"message_id": m["id"]})
        assert len(await notifications(client, named)) == 1
        assert await notifications(client, other) == []


async def search(client, who, q, **params):
    reply = await client.get(f"{BASE}/search", params={"q": q, **params}, headers=who.headers)
    assert reply.status_code == 200, reply.text
    return [m["text"] for m in reply.json()["items"]]


async def test_search_within_and_across_rooms_respects_membership(client):
    ana, ben, eve = await people(client, 3)
    ours = await room(client, ana, "group", ben)
    mine = await room(client, ben, "group")
    theirs = await room(client, eve, "group")
    await send(client, ana, ours["id"], "Pizza tonight at eight")
    await send(client, ben, mine["id"], "remember pizzas and salad")
    await send(client, eve, theirs["id"], "secret pizza party")
    deleted = await send(client, ben, ours["id"], "pizza deleted")
    await client.delete(f"{BASE}/messages/{deleted['id']}", headers=ben.headers)
    edited = await send(client, ben, ours["id"], "burger")
    await client.patch(
        f"{BASE}/messages/{edited['id']}", json={"message": "pizza edited"}, headers=ben.headers
    )
    assert await search(client, ben, "pizz") == [
        "pizza edited",
        "remember pizzas and salad",
        "Pizza tonight at eight",
    ]
    assert await search(client, ben, "pizza", room_id=ours["id"]) == [
        "pizza edited",
        "Pizza tonight at eight",
    ]
    assert await search(client, ben, "pizza tonight") == ["Pizza tonight at eight"]
    assert await search(client, ben, "burger") == []
    assert await search(client, ben, 'pizza" OR secret*') == []
    assert await search(client, eve, "pizza") == ["secret pizza party"]
    hidden = await client.get(
        f"{BASE}/search", params={"q": "pizza", "room_id": ours["id"]}, headers=eve.headers
    )
    assert hidden.status_code == 404
    empty = await client.get(f"{BASE}/search", params={"q": "!!!"}, headers=ben.headers)
    assert empty.status_code == 422
    page = (
        await client.get(f"{BASE}/search", params={"q": "pizza", "limit": 2}, headers=ben.headers)
    ).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = await search(client, ben, "pizza", limit=2, cursor=page["next_cursor"])
    assert rest == ["Pizza tonight at eight"]


async def test_hidden_history_bounds_history_and_search(client):
    ana, early, late = await people(client, 3)
    g = await room(client, ana, "group", early, hideHistory=True)
    await send(client, ana, g["id"], "before the newcomer arrived")
    await client.post(
        f"{BASE}/rooms/{g['id']}/members", json={"user_id": late.id}, headers=ana.headers
    )
    await send(client, ana, g["id"], "after the newcomer arrived")
    assert await search(client, early, "newcomer") == [
        "after the newcomer arrived",
        "before the newcomer arrived",
    ]
    assert await search(client, late, "newcomer") == ["after the newcomer arrived"]
    history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=late.headers)).json()
    texts = [m["text"] for m in history["items"] if m["type"] != "system"]
    assert texts == ["after the newcomer arrived"] and history["before_cursor"] is None
    listing = (await client.get(f"{BASE}/rooms", headers=late.headers)).json()["items"][0]
    assert listing["unread_count"] == 1


async def test_a_busy_window_is_one_job_and_one_grouped_entry(make_client, monkeypatch):
    from townsquare.domains.chat import actions as chat_actions
    from townsquare.infra import jobs

    deferred: list[dict] = []
    original = jobs.defer

    def recording(session, name, payload=None, **kw):
        if name == chat_actions.NOTIFY_JOB:
            deferred.append(payload)
        return original(session, name, payload, **kw)

    monkeypatch.setattr(jobs, "defer", recording)
    async with make_client(**{**CHAT_SETTINGS, "chat_notify_delay_seconds": 2.0}) as client:
        ana, ben, away = await people(client, 3)
        g = await room(client, ana, "group", ben, away)
        for i in range(3):
            await send(client, ana, g["id"], f"ana {i}")
            await send(client, ben, g["id"], f"ben {i}")
        assert len(deferred) == 1  # six messages in one window: one job
        assert deferred[0]["room_id"] == g["id"]

        async def grouped():
            items = await notifications(client, away)
            return bool(items) and items[0]["count"] == 2

        await until(grouped)
        (item,) = await notifications(client, away)
        assert item["type"] == "message" and item["target_id"] == g["id"]
        assert {a["id"] for a in item["actors"]} == {ana.id, ben.id}
        assert item["title"].endswith("sent you a message") and " and " in item["title"]
        # the senders are away too: each hears of the other, never of themselves
        (for_ana,) = await notifications(client, ana)
        assert for_ana["actor"]["id"] == ben.id and for_ana["count"] == 1
