"""PresenceChanged, the event contract: payload, recipients and how many are published."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.helpers.accounts import Member, register
from tests.helpers.app import app_ctx
from tests.helpers.events import contract
from tests.helpers.social import befriend
from townsquare.core.events import Delivery, user_room
from townsquare.domains.presence import actions
from townsquare.domains.presence.schemas import PresenceChanged
from townsquare.domains.presence.store import PresenceInfo
from townsquare.infra.bus import event_args

EVENT = "presence:friend_activity"


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[Delivery]:
    """Every delivery presence hands to the bus (it publishes outside any transaction)."""
    seen: list[Delivery] = []
    original = actions.publish_deliveries

    async def capture(bus: Any, deliveries: list[Delivery]) -> None:
        seen.extend(deliveries)
        await original(bus, deliveries)

    monkeypatch.setattr(actions, "publish_deliveries", capture)
    return seen


async def _connect(client: httpx.AsyncClient, *members: Member) -> None:
    for member in members:
        await actions.do_connect(
            app_ctx(client), user_id=int(member.id), conn_key=f"test-{member.id}"
        )


def _only(published: list[Delivery]) -> PresenceChanged:
    assert len(published) == 1, published
    event = published[0].event
    assert isinstance(event, PresenceChanged)
    assert event.type == EVENT
    return event


@contract(PresenceChanged)
async def test_status_and_activity_reach_the_online_audience_only(
    client: httpx.AsyncClient, published: list[Delivery]
) -> None:
    member, friend, fan, offline_friend, blocked, stranger = [
        await register(client) for _ in range(6)
    ]
    await befriend(client, member, friend)
    await befriend(client, member, offline_friend)
    for follower in (fan, blocked):
        reply = await client.put(f"/api/v1/following/{member.username}", headers=follower.headers)
        assert reply.status_code == 204, reply.text
    reply = await client.put(f"/api/v1/blocks/{blocked.username}", headers=member.headers)
    assert reply.status_code == 204, reply.text
    await _connect(client, friend, fan, blocked, stranger)
    published.clear()
    ctx = app_ctx(client)
    before = datetime.now(UTC).replace(microsecond=0)

    await actions.do_connect(ctx, user_id=int(member.id), conn_key="laptop")
    online = _only(published)
    audience = {user_room(int(friend.id)), user_room(int(fan.id))}
    assert published[0].rooms[0] == user_room(int(member.id))  # the user's own devices first
    assert set(published[0].rooms) == {user_room(int(member.id)), *audience}
    assert len(published[0].rooms) == 3
    payload = online.payload()
    assert payload["last_active_at"].endswith("+00:00")
    assert datetime.fromisoformat(payload["last_active_at"]) >= before
    assert payload == {
        "user_id": member.id,
        "status": "online",
        "activity": None,
        "metadata": None,
        "last_active_at": payload["last_active_at"],
        "last_seen_at": None,
    }

    # a second device changes nothing anyone sees: nothing is published
    published.clear()
    await actions.do_connect(ctx, user_id=int(member.id), conn_key="phone")
    assert published == []

    await actions.do_activity(
        ctx, user_id=int(member.id), activity="painting", metadata={"canvas": 2}, set_activity=True
    )
    painting = _only(published)
    assert set(published[0].rooms) == {user_room(int(member.id)), *audience}
    assert (painting.status, painting.activity, painting.metadata) == (
        "online",
        "painting",
        {"canvas": 2},
    )
    # the same activity again is no news
    published.clear()
    await actions.do_activity(
        ctx, user_id=int(member.id), activity="painting", metadata={"canvas": 2}, set_activity=True
    )
    assert published == []

    await actions.do_disconnect(ctx, user_id=int(member.id), conn_key="phone")
    assert published == []
    await actions.do_disconnect(ctx, user_id=int(member.id), conn_key="laptop")
    offline = _only(published)
    assert set(published[0].rooms) == {user_room(int(member.id)), *audience}
    assert offline.status == "offline"
    assert offline.payload()["last_seen_at"] is not None


async def test_a_hidden_status_is_told_to_the_users_own_devices_only(
    client: httpx.AsyncClient, published: list[Delivery]
) -> None:
    member, friend = await register(client), await register(client)
    await befriend(client, member, friend)
    reply = await client.patch(
        "/api/v1/users/me",
        headers=member.headers,
        json={"privacy": {"show_online_status": False}},
    )
    assert reply.status_code == 200, reply.text
    await _connect(client, friend)
    published.clear()
    await _connect(client, member)
    event = _only(published)
    assert published[0].rooms == (user_room(int(member.id)),)
    assert event.status == "online"


def test_the_wire_payload_is_what_presence_always_sent() -> None:
    info = PresenceInfo(
        user_id=7_300_000_000_000_001,
        status="idle",
        activity="reading",
        metadata={"page": 3, "book": "Dune", "tags": ["sf"]},
        last_active_ms=1_767_225_600_123,
        last_seen_ms=None,
        connections=1,
    )
    expected = {  # the dict published before the event was typed
        "user_id": "7300000000000001",
        "status": "idle",
        "activity": "reading",
        "metadata": {"page": 3, "book": "Dune", "tags": ["sf"]},
        "last_active_at": "2026-01-01T00:00:00.123000+00:00",
        "last_seen_at": None,
    }
    event = PresenceChanged.of(info)
    assert event_args(event.type, event.payload()) == event_args(EVENT, expected)
    assert json.loads(event_args(event.type, event.payload()))[1] == expected
