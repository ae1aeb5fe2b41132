"""The demo community comes with conversations made through the chat actions."""

from __future__ import annotations

from rich.console import Console

from tests.helpers.accounts import login
from tests.helpers.chat import BASE
from townsquare.demo import demo_password, generate_demo


async def test_demo_members_have_rooms_and_messages(client, settings):
    await generate_demo(settings, users=12, if_empty=False, seed=7, console=Console(quiet=True))
    await generate_demo(settings, users=12, if_empty=False, seed=7, console=Console(quiet=True))
    ana = await login(client, "ana_lima", password=demo_password("ana_lima", 7))
    rooms = (await client.get(f"{BASE}/rooms", headers=ana.headers)).json()["items"]
    assert sorted(r["type"] for r in rooms) == ["direct", "group"]  # once, though run twice
    direct = next(r for r in rooms if r["type"] == "direct")
    assert direct["last_message"]["text"] == "Perfect, see you there 🏃"
    assert direct["unread_count"] == 0  # she wrote last
    group = next(r for r in rooms if r["type"] == "group")
    assert group["name"] == "Weekend climbers" and group["unread_count"] == 4
    hana = await login(client, "hana_sato", password=demo_password("hana_sato", 7))
    (square,) = (await client.get(f"{BASE}/rooms", headers=hana.headers)).json()["items"]
    assert square["name"] == "Town square" and square["member_count"] == 6
