"""Group commit of sends: concurrent messages share one transaction, each is still accepted or
refused on its own, sequences stay gap-free and per-sender order holds, resends get originals."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.helpers.app import app_ctx
from tests.helpers.chat import BASE, people, room, send
from tests.helpers.events import events
from townsquare.core.errors import AppError
from townsquare.domains.chat import actions
from townsquare.domains.chat.actions import batch
from townsquare.domains.chat.schemas import SendMessage


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the group commit stores."""
    sizes: list[int] = []
    original = batch.check_send_messages

    async def recording(session: Any, items: Any, **kw: Any) -> Any:
        sizes.append(len(items))
        return await original(session, items, **kw)

    monkeypatch.setattr(batch, "check_send_messages", recording)
    return sizes


async def _send(client: Any, who: Any, room_id: str, text: str, cid: str | None = None) -> Any:
    ctx = app_ctx(client)
    return await actions.send_message(
        ctx.db,
        user_id=int(who.id),
        room_id=int(room_id),
        body=SendMessage(message=text, client_id=cid),
        media=ctx.media,
        notify_delay=None,
    )


async def test_concurrent_sends_share_batches_with_gap_free_ordered_sequences(
    client, batches, published
):
    members = await people(client, 4)
    a = await room(client, members[0], "group", *members[1:])
    b = await room(client, members[1], "group", members[0], *members[2:])

    async def burst(who: Any, room_id: str, n: int) -> list[Any]:
        calls = [_send(client, who, room_id, f"{who.username} {i}") for i in range(n)]
        return list(await asyncio.gather(*calls))

    results = await asyncio.gather(*(burst(m, r["id"], 10) for m in members for r in (a, b)))
    assert max(batches) > 1  # several messages were stored in one transaction
    for r in (a, b):
        page = await client.get(
            f"{BASE}/rooms/{r['id']}/messages?limit=100", headers=members[1].headers
        )
        items = page.json()["items"]
        assert [m["seq"] for m in items] == list(range(1, len(items) + 1))  # no gaps
        assert len([m for m in items if m["type"] != "system"]) == 40
    for burst_result in results:  # one sender's calls in one room keep their order
        seqs = [s.message.seq for s in burst_result]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    news = events(published, "chat:new_message")
    assert len(news) == 80
    told = {(d.rooms[0], d.event.payload()["message"]["seq"]) for d in news}
    assert len(told) == 80  # one event per message, each to its own room


async def test_one_refusal_does_not_sink_the_batch(client, batches):
    ana, ben, cat = await people(client, 3)
    g = await room(client, ana, "group", ben)
    outcomes = await asyncio.gather(
        _send(client, ana, g["id"], "fine"),
        _send(client, cat, g["id"], "not a member"),
        _send(client, ben, g["id"], "<b></b>"),
        _send(client, ben, g["id"], "also fine"),
        return_exceptions=True,
    )
    assert batches[-1] == 4
    assert not isinstance(outcomes[0], Exception) and outcomes[0].created
    assert isinstance(outcomes[1], AppError) and outcomes[1].status == 404
    assert isinstance(outcomes[2], AppError) and outcomes[2].code == "empty_message"
    assert not isinstance(outcomes[3], Exception)
    history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ben.headers)).json()
    texts = [m["text"] for m in history["items"] if m["type"] != "system"]
    assert texts == ["fine", "also fine"]
    assert outcomes[3].message.seq == outcomes[0].message.seq + 1  # no hole for the refused


async def test_twins_in_one_batch_store_one_message(client, batches):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    first, second, other = await asyncio.gather(
        _send(client, ana, g["id"], "twin", "k-1"),
        _send(client, ana, g["id"], "twin again", "k-1"),
        _send(client, ben, g["id"], "ben's", "k-1"),
    )
    assert batches[-1] == 3
    assert first.created and not second.created and other.created
    assert second.message.id == first.message.id and second.message.client_id == "k-1"
    assert other.message.id != first.message.id
    history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ben.headers)).json()
    assert [m["text"] for m in history["items"] if m["type"] != "system"] == ["twin", "ben's"]


async def test_a_stored_resend_in_a_batch_gets_its_original_and_others_still_land(client, batches):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    original = await send(client, ana, g["id"], "before", client_id="r-1")
    resent, fresh = await asyncio.gather(
        _send(client, ana, g["id"], "before (resent)", "r-1"),
        _send(client, ben, g["id"], "new one", "r-2"),
    )
    assert not resent.created and str(resent.message.id) == original["id"]
    assert resent.message.text == "before"
    assert fresh.created and fresh.message.seq == original["seq"] + 1
    history = (await client.get(f"{BASE}/rooms/{g['id']}/messages", headers=ben.headers)).json()
    assert [m["text"] for m in history["items"] if m["type"] != "system"] == [
        "before",
        "new one",
    ]


async def test_a_resend_refused_now_still_gets_its_original(client):
    ana, ben = await people(client, 2)
    g = await room(client, ana, "group", ben)
    original = await send(client, ben, g["id"], "said once", client_id="s-1")
    reply = await client.patch(
        f"{BASE}/rooms/{g['id']}", json={"slow_mode_seconds": 60}, headers=ana.headers
    )
    assert reply.status_code == 200
    again = await _send(client, ben, g["id"], "said once", "s-1")  # slow mode would refuse
    assert not again.created and str(again.message.id) == original["id"]
    with pytest.raises(AppError) as refused:
        await _send(client, ben, g["id"], "a new one", "s-2")
    assert refused.value.code == "slow_mode"
