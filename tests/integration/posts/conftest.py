"""Helpers for post tests."""

from __future__ import annotations

from typing import Any

from tests.factories import app_ctx
from tests.integration.social.conftest import befriend, published  # noqa: F401
from townsquare.domains.presence import actions as presence_actions


async def post(client, member, text="Hello town", **extra: Any) -> dict[str, Any]:
    reply = await client.post("/api/v1/posts", headers=member.headers, json={"text": text, **extra})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def see(client, viewer, post_id) -> int:
    headers = viewer.headers if viewer is not None else {}
    return (await client.get(f"/api/v1/posts/{post_id}", headers=headers)).status_code


async def go_online(client, *members) -> None:
    """Mark members connected, as a gateway would: live events are addressed to them only."""
    ctx = app_ctx(client)
    for member in members:
        await presence_actions.do_connect(ctx, user_id=int(member.id), conn_key=f"test-{member.id}")


__all__ = ["befriend", "go_online", "post", "see"]
