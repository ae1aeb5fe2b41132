"""Post media uploads stream to disk: videos and GIFs have their own (larger) limit than images,
anything over its limit is a 413 with nothing stored, and the HTTP cap still holds elsewhere."""

from __future__ import annotations

import io
import secrets
import tracemalloc
from collections.abc import AsyncIterator

from PIL import Image

from tests.helpers.accounts import register
from tests.helpers.app import app_ctx

MiB = 1024 * 1024
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42"


def multipart(data: bytes, field: str = "file", filename: str | None = "clip.bin"):
    """A multipart/form-data body by hand (so tests can stream it in chunks)."""
    boundary = secrets.token_hex(12)
    disposition = f'form-data; name="{field}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = (
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def chunked(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def stored_files(client) -> list[str]:
    root = app_ctx(client).media.root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def send(client, member, body: bytes, content_type: str, *, stream: bool = False):
    headers = {**member.headers, "content-type": content_type}
    content = chunked(body) if stream else body
    return await client.post("/api/v1/media", headers=headers, content=content)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((width, height), 90).convert("RGB").save(out, format="PNG")
    return out.getvalue()


async def test_a_video_larger_than_the_old_cap_is_stored_as_sent(client):
    ana = await register(client, "ana")
    video = MP4_HEAD + secrets.token_bytes(7 * MiB)  # over the image limit and the HTTP cap
    body, content_type = multipart(video)
    reply = await send(client, ana, body, content_type, stream=True)
    assert reply.status_code == 201, reply.text
    assert reply.json()["kind"] == "video" and reply.json()["content_type"] == "video/mp4"
    served = await client.get(reply.json()["url"])
    assert served.content == video
    assert not [f for f in stored_files(client) if f.startswith(".incoming")]
    created = await client.post(
        "/api/v1/posts", headers=ana.headers, json={"text": "", "media_ids": [reply.json()["id"]]}
    )
    assert created.status_code == 201 and created.json()["media"][0]["kind"] == "video"


async def test_over_its_limit_is_413_and_nothing_is_stored(make_client):
    async with make_client(post_max_video_bytes=2 * MiB, post_max_image_bytes=1 * MiB) as client:
        ana = await register(client, "ana")
        before = stored_files(client)
        video, content_type = multipart(MP4_HEAD + b"\x00" * (3 * MiB))
        for stream in (True, False):  # chunked: counted while streaming; sized: refused up front
            reply = await send(client, ana, video, content_type, stream=stream)
            assert reply.status_code == 413, reply.text
            assert reply.headers["content-type"].startswith("application/problem+json")
            assert reply.json()["code"] == "payload_too_large"
        # an image has its own, smaller limit even when it fits the video one
        image, content_type = multipart(png(800, 800))
        assert 1 * MiB < len(image) < 2 * MiB
        reply = await send(client, ana, image, content_type, stream=True)
        assert reply.status_code == 413
        assert "Images may be at most 1 MB" in reply.json()["detail"]
        assert stored_files(client) == before
        # within the limits both kinds are fine
        small, content_type = multipart(MP4_HEAD + b"\x00" * MiB)
        assert (await send(client, ana, small, content_type, stream=True)).status_code == 201
        gif = io.BytesIO()
        Image.new("P", (30, 20)).save(gif, format="GIF")
        body, content_type = multipart(gif.getvalue(), filename="a.gif")
        reply = await send(client, ana, body, content_type)
        assert reply.status_code == 201
        assert (reply.json()["kind"], reply.json()["width"], reply.json()["height"]) == (
            "gif",
            30,
            20,
        )


async def test_a_large_upload_is_not_held_in_memory(client):
    ana = await register(client, "ana")
    body, content_type = multipart(MP4_HEAD + b"\x07" * (20 * MiB))
    tracemalloc.start()
    try:
        reply = await send(client, ana, body, content_type, stream=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reply.status_code == 201, reply.text
    assert peak < 8 * MiB, peak


async def test_bad_upload_bodies_are_4xx(client):
    ana = await register(client, "ana")
    no_file, content_type = multipart(b"hello", field="other")
    reply = await send(client, ana, no_file, content_type)
    assert reply.status_code == 422
    not_a_file, content_type = multipart(b"hello", filename=None)
    assert (await send(client, ana, not_a_file, content_type)).status_code == 422
    reply = await send(client, ana, b"just bytes", "application/octet-stream")
    assert reply.status_code == 422
    reply = await send(client, ana, b"--x\r\ngarbage", "multipart/form-data; boundary=x")
    assert reply.status_code in (400, 422)
    empty, content_type = multipart(b"")
    assert (await send(client, ana, empty, content_type)).status_code == 400
    junk, content_type = multipart(b"not an image at all")
    assert (await send(client, ana, junk, content_type)).status_code == 415
    bad_gif, content_type = multipart(b"GIF89a" + b"\xff" * 40)
    assert (await send(client, ana, bad_gif, content_type)).status_code == 415
    anonymous = await client.post("/api/v1/media", content=b"x")
    assert anonymous.status_code == 401
    assert not [f for f in stored_files(client) if f.startswith(".incoming")]


async def test_other_routes_keep_the_http_cap(client):
    ana = await register(client, "ana")
    body, content_type = multipart(MP4_HEAD + b"\x00" * (7 * MiB))
    for path in ("/api/v1/posts", "/api/v1/users/me/avatar", "/api/v1/media/"):
        reply = await client.post(
            path, headers={**ana.headers, "content-type": content_type}, content=body
        )
        assert reply.status_code == 413, (path, reply.status_code)
