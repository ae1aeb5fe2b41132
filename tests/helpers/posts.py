"""Post steps through the API, and presence setup that live feed events depend on."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from tests.helpers.app import app_ctx
from townsquare.domains.presence import actions as presence_actions


async def post(client: Any, member: Any, text: str = "Hello town", **extra: Any) -> dict[str, Any]:
    """Publish a post as `member`; returns the post view."""
    reply = await client.post("/api/v1/posts", headers=member.headers, json={"text": text, **extra})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def see(client: Any, viewer: Any, post_id: str) -> int:
    """The status code `viewer` (None: anonymous) gets for the post."""
    headers = viewer.headers if viewer is not None else {}
    return (await client.get(f"/api/v1/posts/{post_id}", headers=headers)).status_code


async def go_online(client: Any, *members: Any) -> None:
    """Mark members connected, as a gateway would: live events are addressed to them only."""
    ctx = app_ctx(client)
    for member in members:
        await presence_actions.do_connect(ctx, user_id=int(member.id), conn_key=f"test-{member.id}")


def png(width: int = 640, height: int = 480) -> bytes:
    """A real PNG image of the given size."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


async def upload(client: Any, member: Any, data: bytes, name: str = "f.bin") -> Any:
    """Upload a media file as `member`; returns the raw reply."""
    return await client.post(
        "/api/v1/media",
        headers=member.headers,
        files={"file": (name, data, "application/octet-stream")},
    )
