"""Helpers for social graph tests."""

from __future__ import annotations

import pytest

from tests.factories import app_ctx
from townsquare.core.events import Delivery


@pytest.fixture
def published(client) -> list[Delivery]:
    """Every domain event the app's database hands to the bus after a commit."""
    db = app_ctx(client).db
    seen: list[Delivery] = []
    original = db.publisher

    async def capture(deliveries: list[Delivery]) -> None:
        # the domain's own events; the notifications it triggers are that suite's business
        seen.extend(d for d in deliveries if not d.event.type.startswith("notification:"))
        if original is not None:
            await original(deliveries)

    db.publisher = capture
    return seen


async def befriend(client, a, b) -> None:
    """Make two members friends through the API."""
    sent = await client.post(
        "/api/v1/friends/requests", headers=a.headers, json={"username": b.username}
    )
    assert sent.status_code == 201, sent.text
    request_id = sent.json()["request"]["id"]
    accepted = await client.post(f"/api/v1/friends/requests/{request_id}/accept", headers=b.headers)
    assert accepted.status_code == 204, accepted.text


async def names(client, member, path) -> list[str]:
    reply = await client.get(path, headers=member.headers)
    assert reply.status_code == 200, reply.text
    return [item["username"] for item in reply.json()["items"]]


async def stats(client, member) -> dict[str, int]:
    reply = await client.get("/api/v1/users/me", headers=member.headers)
    return dict(reply.json()["stats"])
