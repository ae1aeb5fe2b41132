"""Socket events through the real gateway: notifications:subscribe, notification:new on every
device, notifications:mark_read with the new unread count told to the user's other devices."""

from __future__ import annotations

from tests.helpers.accounts import register
from tests.helpers.gateway import Device, JsFactory
from tests.helpers.notifications import notify
from townsquare.domains.notifications.actions import Target

WAIT = 10.0


NOTIFICATION_EVENTS = ("notification:new", "notification:updated", "notification:read")


async def test_devices_get_new_notifications_and_read_counts(client, gateway_url):
    ana = await register(client)
    ben = await register(client, "benrt")
    phone = await Device(NOTIFICATION_EVENTS).connect(gateway_url, ana)
    laptop = await Device(NOTIFICATION_EVENTS).connect(gateway_url, ana)
    try:
        first = await phone.call("notifications:subscribe", {})
        assert first == {"ok": True, "data": {"unread_count": 0, "notifications": []}}
        row = await notify(client, recipient_id=ana.id, type="comment", actor_id=ben.id)
        assert row is not None
        for device in (phone, laptop):
            data = await device.next("notification:new")
            assert data["notification"]["id"] == str(row.id)
            assert data["notification"]["title"] == "benrt commented on your post"
        again = await laptop.call("notifications:subscribe", {"limit": 5, "unread_only": True})
        assert again["data"]["unread_count"] == 1
        assert [n["id"] for n in again["data"]["notifications"]] == [str(row.id)]

        reply = await phone.call("notifications:mark_read", {"notificationIds": [str(row.id)]})
        assert reply == {"ok": True, "data": {"marked": 1, "unread_count": 0}}
        told = await laptop.next("notification:read")
        assert told == {"notification_ids": [str(row.id)], "all": False, "unread_count": 0}
        await phone.next("notification:read")  # the reading device hears it too

        # a like group updates in place on every device
        fans = [await register(client) for _ in range(2)]
        for fan in fans:
            await notify(
                client, recipient_id=ana.id, type="like", actor_id=fan.id, target=Target("post", 5)
            )
        await laptop.next("notification:new")
        updated = await laptop.next("notification:updated")
        assert updated["notification"]["count"] == 2

        everything = await laptop.call("notifications:mark_read", {"all": True})
        assert everything == {"ok": True, "data": {"marked": 1, "unread_count": 0}}
        assert (await phone.next("notification:read"))["all"] is True
    finally:
        await phone.sio.disconnect()
        await laptop.sio.disconnect()


async def test_bad_socket_payloads_get_error_acks(client, gateway_url):
    ana = await register(client)
    device = await Device(NOTIFICATION_EVENTS).connect(gateway_url, ana)
    try:
        for bad in ({"notificationIds": "nope"}, {"pigeon": 1}, {"notificationIds": ["x"]}):
            reply = await device.call("notifications:mark_read", bad)
            assert reply["ok"] is False and reply["error"]["code"] == "validation_failed", bad
        reply = await device.call("notifications:subscribe", {"limit": 500})
        assert reply["ok"] is False
    finally:
        await device.sio.disconnect()


# the official socket.io-client (Node), as browsers and React Native apps use it


async def test_the_official_js_client_subscribes_receives_and_marks_read(
    client, gateway_url, js_client: JsFactory
):
    ana = await register(client)
    ben = await register(client)
    async with js_client(gateway_url, auth={"token": ana.access_token}) as js:
        await js.expect_type("connect")
        subscribed = await js.emit("notifications:subscribe", {"limit": 5})
        assert subscribed == {"ok": True, "data": {"unread_count": 0, "notifications": []}}
        row = await notify(client, recipient_id=ana.id, type="mention", actor_id=ben.id)
        assert row is not None
        new = await js.expect_event("notification:new")
        assert new["args"][0]["notification"]["id"] == str(row.id)
        assert "offset" in new["args"][1]  # user rooms are durable: the client can resume
        read = await js.emit("notifications:mark_read", {"notificationIds": [str(row.id)]})
        assert read == {"ok": True, "data": {"marked": 1, "unread_count": 0}}
        told = await js.expect(
            lambda o: o["type"] == "event" and o["event"] == "notification:read", anywhere=True
        )
        assert told["args"][0]["unread_count"] == 0
