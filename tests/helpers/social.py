"""Social graph steps through the API: friendships, and the lists and counts they show."""

from __future__ import annotations

from typing import Any


async def befriend(client: Any, a: Any, b: Any) -> None:
    """Make two members friends through the API."""
    sent = await client.post(
        "/api/v1/friends/requests", headers=a.headers, json={"username": b.username}
    )
    assert sent.status_code == 201, sent.text
    request_id = sent.json()["request"]["id"]
    accepted = await client.post(f"/api/v1/friends/requests/{request_id}/accept", headers=b.headers)
    assert accepted.status_code == 204, accepted.text


async def names(client: Any, member: Any, path: str) -> list[str]:
    """The usernames of a member's list at `path` (friends, followers, ...), first page."""
    reply = await client.get(path, headers=member.headers)
    assert reply.status_code == 200, reply.text
    return [item["username"] for item in reply.json()["items"]]


async def stats(client: Any, member: Any) -> dict[str, int]:
    """A member's own profile counters."""
    reply = await client.get("/api/v1/users/me", headers=member.headers)
    return dict(reply.json()["stats"])
