"""Chat over the real gateway with python-socketio, the official JS client and the Python SDK:
join refusals, sends and resends, typing, receipts and unread counts on two devices, updates."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from tests.helpers.app import app_ctx
from tests.helpers.chat import BASE, Device, people, room, send
from townsquare.client.api import TownsquareClient
from townsquare.realtime import Gateway


async def test_join_is_for_members_and_messages_reach_joined_devices(client, gateway_url):
    ana, ben, eve = await people(client, 3)
    g = await room(client, ana, "group", ben)
    a = await Device().connect(gateway_url, ana)
    b = await Device().connect(gateway_url, ben)
    e = await Device().connect(gateway_url, eve)
    try:
        refused = await e.call("chat:join", {"roomId": g["id"]})  # not revealed
        assert refused["ok"] is False and refused["error"]["code"] == "not_found"
        pub = await room(client, ana, "public")
        refused = await e.call("chat:join", {"roomId": pub["id"]})
        assert refused["ok"] is False and refused["error"]["code"] == "not_member"
        missing = await e.call("chat:join", {"roomId": "999"})
        assert missing["ok"] is False and missing["error"]["code"] == "not_found"
        assert (await a.call("chat:join", {"roomId": g["id"]}))["ok"] is True
        assert (await b.call("chat:join", {"roomId": g["id"]})) == {
            "ok": True,
            "data": {"roomId": g["id"], "joined": True},
        }
        ack = await a.call(
            "chat:message", {"roomId": g["id"], "message": "hi all", "client_id": "k1"}
        )
        assert ack["ok"] is True and ack["data"]["text"] == "hi all" and ack["data"]["seq"] == 1
        got = await b.next("chat:new_message")
        assert got["roomId"] == g["id"] and got["message"]["id"] == ack["data"]["id"]
        assert (await a.next("chat:new_message"))["message"]["seq"] == 1
        # REST takes the same path to the same room
        await send(client, ben, g["id"], "from rest")
        assert (await a.next("chat:new_message"))["message"]["text"] == "from rest"
        assert (await b.call("chat:leave", {"roomId": g["id"]}))["data"]["joined"] is False
        await send(client, ana, g["id"], "after leave")
        assert (await a.next("chat:new_message"))["message"]["text"] == "after leave"
        assert [m["message"]["text"] for m in b.named("chat:new_message")] == ["from rest"]
        assert e.named("chat:new_message") == []
        bad = await a.call("chat:message", {"roomId": g["id"], "message": ""})
        assert bad["ok"] is False and bad["error"]["code"] == "validation_failed"
    finally:
        for d in (a, b, e):
            await d.close()


async def test_resend_after_dropped_connection_is_stored_once(client, gateway_url):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    payload = {"roomId": g["id"], "message": "exactly once", "client_id": "offline-1"}
    first = await Device().connect(gateway_url, ana)
    ack1 = await first.call("chat:message", payload)
    await first.close()  # the connection drops before the client saw the ack, say
    # a fresh gateway has no memory of the key: the database recognises the resend
    gw = Gateway(app_ctx(client), metrics_registry=CollectorRegistry(), freeze_gc=False)
    port = await gw.start("127.0.0.1", 0)
    try:
        second = await Device().connect(f"http://127.0.0.1:{port}", ana)
        ack2 = await second.call("chat:message", payload)
        await second.close()
    finally:
        await gw.stop()
    assert ack1["ok"] and ack2 == ack1
    history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ben.headers)).json()
    assert [m["text"] for m in history["items"]] == ["exactly once"]


async def test_sdk_sends_with_its_own_client_ids(client, gateway_url):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    ts = TownsquareClient("http://testserver", gateway_url=gateway_url, http=client)
    await ts.login(ana.username, ana.password)
    rt = ts.realtime()
    try:
        await rt.connect()
        joined = await rt.emit("chat:join", {"roomId": g["id"]})
        assert joined == {"roomId": g["id"], "joined": True}
        sent = await rt.emit("chat:message", {"roomId": g["id"], "message": "via sdk"})
        assert sent["text"] == "via sdk" and sent["client_id"]
        typing = await rt.emit("chat:typing", {"roomId": g["id"], "isTyping": True}, queue=False)
        assert typing == {"relayed": True}
    finally:
        await rt.close()


async def test_typing_reaches_others_and_expires(client, gateway_url):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    a = await Device().connect(gateway_url, ana)
    b = await Device().connect(gateway_url, ben)
    try:
        ack = await a.call("chat:typing", {"roomId": g["id"], "isTyping": True})
        assert ack == {"ok": True, "data": {"relayed": True}}
        start = await b.next("chat:user_typing")
        assert start == {"roomId": g["id"], "userId": ana.id, "isTyping": True}
        # no refresh: the indicator lapses on its own (TTL is short in these tests)
        stop = await b.next("chat:user_typing")
        assert stop == {"roomId": g["id"], "userId": ana.id, "isTyping": False}
        # sending a message ends typing at once
        await a.call("chat:typing", {"roomId": g["id"], "isTyping": True})
        await b.next("chat:user_typing", lambda d: d["isTyping"])
        await a.call("chat:message", {"roomId": g["id"], "message": "done typing"})
        await b.next("chat:user_typing", lambda d: not d["isTyping"])
        assert a.named("chat:user_typing") == []  # never echoed to the typist
    finally:
        await a.close()
        await b.close()


async def test_typing_is_suppressed_in_large_rooms(client, gateway_url):
    members = await people(client, 6)  # the tests' limit is 5
    g = await room(client, members[0], "group", *members[1:])
    a = await Device().connect(gateway_url, members[0])
    try:
        ack = await a.call("chat:typing", {"roomId": g["id"], "isTyping": True})
        assert ack == {"ok": True, "data": {"relayed": False}}
    finally:
        await a.close()


async def test_receipts_and_unread_counts_across_two_devices(client, gateway_url):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    m1 = await send(client, ana, g["id"], "one")
    m2 = await send(client, ana, g["id"], "two")
    phone = await Device().connect(gateway_url, ben)
    laptop = await Device().connect(gateway_url, ben)
    sender = await Device().connect(gateway_url, ana)
    try:
        ack = await phone.call("chat:read", {"roomId": g["id"], "messageId": m1["id"]})
        assert ack["data"] == {"roomId": g["id"], "lastReadSeq": 1, "unreadCount": 1}
        for device in (phone, laptop):
            unread = await device.next("chat:unread")
            assert unread == {"roomId": g["id"], "unreadCount": 1, "lastReadSeq": 1}
        receipt = await sender.next("chat:read_receipt")
        assert receipt == {"roomId": g["id"], "userId": ben.id, "messageId": m1["id"], "seq": 1}
        await laptop.call("chat:read", {"roomId": g["id"], "messageId": m2["id"]})
        assert (await phone.next("chat:unread"))["unreadCount"] == 0
        # reading an older message never moves the mark back
        back = await laptop.call("chat:read", {"roomId": g["id"], "messageId": m1["id"]})
        assert back["data"]["lastReadSeq"] == 2
        listing = (await client.get(f"{BASE}/rooms", headers=ben.headers)).json()
        assert listing["items"][0]["unread_count"] == 0
        history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ana.headers)).json()
        assert [m["status"] for m in history["items"]] == ["read", "read"]
        # receipts off: ben sends none, and ana (off too) sees none
        await client.put(f"{BASE}/settings", json={"readReceipts": False}, headers=ben.headers)
        m3 = await send(client, ana, g["id"], "three")
        await phone.call("chat:read", {"roomId": g["id"], "messageId": m3["id"]})
        await laptop.next("chat:unread", lambda d: d["lastReadSeq"] == 3)
        assert [r["seq"] for r in sender.named("chat:read_receipt")] == [2]
        history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ana.headers)).json()
        assert history["items"][-1]["status"] == "sent"
        view = (await client.get(f"{BASE}/rooms/{g['id']}", headers=ana.headers)).json()
        assert {m["user"]["id"]: m["last_read_seq"] for m in view["members"]}[ben.id] is None
    finally:
        for d in (phone, laptop, sender):
            await d.close()


async def test_edits_deletes_and_reactions_reach_every_member(client, gateway_url):
    ana, ben, cy = await people(client, 3)
    g = await room(client, ana, "group", ben, cy)
    devices = [await Device().connect(gateway_url, m) for m in (ana, ben, cy)]
    try:
        for d in devices:
            await d.call("chat:join", {"roomId": g["id"]})
        m = await send(client, ben, g["id"], "typo")
        await client.patch(
            f"{BASE}/messages/{m['id']}", json={"message": "fixed"}, headers=ben.headers
        )
        await client.post(
            f"{BASE}/messages/{m['id']}/reactions", json={"emoji": "👀"}, headers=cy.headers
        )
        await client.delete(f"{BASE}/messages/{m['id']}", headers=ben.headers)
        for d in devices:
            seen = [await d.next("chat:message_updated") for _ in range(3)]
            assert [s["change"] for s in seen] == ["edited", "reactions", "deleted"]
            assert seen[0]["message"]["text"] == "fixed"
            assert seen[1]["message"]["reactions"][0]["count"] == 1
            assert seen[2]["message"]["deleted"] is True and seen[2]["message"]["text"] == ""
    finally:
        for d in devices:
            await d.close()


async def test_official_js_client_joins_sends_and_receives(client, gateway_url, js_client):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    async with js_client(
        gateway_url, auth={"token": ana.access_token}, transports=["websocket"]
    ) as js:
        await js.expect_type("connect")
        assert (await js.emit("chat:join", {"roomId": g["id"]}))["ok"] is True
        ack = await js.emit(
            "chat:message", {"roomId": g["id"], "message": "from node", "client_id": "n1"}
        )
        assert ack["ok"] is True and ack["data"]["text"] == "from node"
        again = await js.emit(
            "chat:message", {"roomId": g["id"], "message": "from node", "client_id": "n1"}
        )
        assert again["data"]["id"] == ack["data"]["id"]
        mine = await js.expect(
            lambda o: o["type"] == "event" and o["event"] == "chat:new_message", anywhere=True
        )
        assert mine["args"][0]["message"]["id"] == ack["data"]["id"]
        await send(client, ben, g["id"], "to node")
        theirs = await js.expect(
            lambda o: (
                o["type"] == "event"
                and o["event"] == "chat:new_message"
                and o["args"][0]["message"]["text"] == "to node"
            )
        )
        assert theirs["args"][0]["roomId"] == g["id"]
        refused = await js.emit("chat:join", {"roomId": "12345"})
        assert refused["ok"] is False


async def test_a_block_closes_the_direct_room_stream(client, gateway_url):
    ana, ben = await people(client, 2)
    dm = await room(client, ana, "direct", ben)
    a = await Device().connect(gateway_url, ana)
    b = await Device().connect(gateway_url, ben)
    try:
        assert (await a.call("chat:join", {"roomId": dm["id"]}))["ok"] is True
        assert (await b.call("chat:join", {"roomId": dm["id"]}))["ok"] is True
        blocked = await client.put(f"/api/v1/blocks/{ana.username}", headers=ben.headers)
        assert blocked.status_code in (200, 204), blocked.text
        for d in (a, b):  # both streams close at once, the block itself is not revealed
            assert await d.next("room:left") == {"room": f"chat:{dm['id']}"}
        refused = await a.call("chat:join", {"roomId": dm["id"]})
        assert refused["ok"] is False and refused["error"]["code"] == "not_found"
        sent = await a.call("chat:message", {"roomId": dm["id"], "message": "hello?"})
        assert sent["ok"] is False and sent["error"]["code"] == "cannot_message"
    finally:
        await a.close()
        await b.close()


async def test_removed_and_departed_members_stop_receiving_the_room(client, gateway_url):
    ana, ben, cat = await people(client, 3)
    g = await room(client, ana, "group", ben, cat)
    devices = [await Device().connect(gateway_url, m) for m in (ana, ben, cat)]
    a, b, c = devices
    try:
        for d in devices:
            assert (await d.call("chat:join", {"roomId": g["id"]}))["ok"] is True
        removed = await client.delete(
            f"{BASE}/rooms/{g['id']}/members/{ben.id}", headers=ana.headers
        )
        assert removed.status_code == 204, removed.text
        assert (await b.next("room:left"))["room"] == f"chat:{g['id']}"
        left = await client.post(f"{BASE}/rooms/{g['id']}/leave", headers=cat.headers)
        assert left.status_code == 204
        assert (await c.next("room:left"))["room"] == f"chat:{g['id']}"
        await send(client, ana, g["id"], "only ana now")
        got = await a.next("chat:new_message", lambda m: m["message"]["type"] != "system")
        assert got["message"]["text"] == "only ana now"
        for gone in (b, c):  # nothing said after they went reaches them
            texts = [m["message"]["text"] for m in gone.named("chat:new_message")]
            assert "only ana now" not in texts
        refused = await b.call("chat:join", {"roomId": g["id"]})
        assert refused["ok"] is False
    finally:
        for d in devices:
            await d.close()


async def test_message_status_goes_sent_delivered_read(client, gateway_url):
    ana, ben, cy = await people(client, 3)
    g = await room(client, ana, "group", ben)
    other = await room(client, cy, "group", ben)
    m1 = await send(client, ana, g["id"], "one")
    m2 = await send(client, ana, g["id"], "two")
    elsewhere = await send(client, cy, other["id"], "not in g")
    sender = await Device().connect(gateway_url, ana)
    phone = await Device().connect(gateway_url, ben)
    outsider = await Device().connect(gateway_url, cy)

    async def statuses() -> list[str]:
        page = await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ana.headers)
        return [m["status"] for m in page.json()["items"]]

    try:
        assert await statuses() == ["sent", "sent"]
        ack = await phone.call("chat:delivered", {"roomId": g["id"], "messageId": m2["id"]})
        assert ack["data"] == {"roomId": g["id"], "lastDeliveredSeq": 2}
        receipt = await sender.next("chat:delivery_receipt")
        assert receipt == {"roomId": g["id"], "userId": ben.id, "messageId": m2["id"], "seq": 2}
        assert await statuses() == ["delivered", "delivered"]
        # never back; a message of another room or a room one is not in is refused
        back = await phone.call("chat:delivered", {"roomId": g["id"], "messageId": m1["id"]})
        assert back["data"]["lastDeliveredSeq"] == 2
        wrong = await phone.call(
            "chat:delivered", {"roomId": g["id"], "messageId": elsewhere["id"]}
        )
        assert wrong["ok"] is False and wrong["error"]["code"] == "not_found"
        stranger = await outsider.call("chat:delivered", {"roomId": g["id"], "messageId": m1["id"]})
        assert stranger["ok"] is False and stranger["error"]["code"] == "not_found"
        await phone.call("chat:read", {"roomId": g["id"], "messageId": m1["id"]})
        assert await statuses() == ["read", "delivered"]
        assert len(sender.named("chat:delivery_receipt")) == 0  # the one was taken above
        # REST takes the same path; receipts off hides delivery both ways
        await client.put(f"{BASE}/settings", json={"readReceipts": False}, headers=ben.headers)
        m3 = await send(client, ana, g["id"], "three")
        rest = await client.post(
            f"{BASE}/rooms/{g['id']}/delivered", json={"messageId": m3["id"]}, headers=ben.headers
        )
        assert rest.status_code == 200 and rest.json() == {"last_delivered_seq": 3}
        assert (await statuses())[-1] == "sent"
        assert sender.named("chat:delivery_receipt") == []
    finally:
        for d in (sender, phone, outsider):
            await d.close()


async def test_gateway_start_freezes_start_up_objects_and_raises_gc_thresholds(client):
    import gc

    from townsquare.realtime.gateway import GC_THRESHOLDS

    before = gc.get_threshold()
    gw = Gateway(app_ctx(client), metrics_registry=CollectorRegistry(), freeze_gc=True)
    await gw.start("127.0.0.1", 0)
    try:
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        await gw.stop()
        gc.unfreeze()  # leave this test process as it was
        gc.set_threshold(*before)
