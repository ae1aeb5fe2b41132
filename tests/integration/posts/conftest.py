"""Helpers for post tests."""

from __future__ import annotations

from typing import Any

from tests.integration.social.conftest import befriend, published  # noqa: F401


async def post(client, member, text="Hello town", **extra: Any) -> dict[str, Any]:
    reply = await client.post("/api/v1/posts", headers=member.headers, json={"text": text, **extra})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def see(client, viewer, post_id) -> int:
    headers = viewer.headers if viewer is not None else {}
    return (await client.get(f"/api/v1/posts/{post_id}", headers=headers)).status_code


__all__ = ["befriend", "post", "see"]
