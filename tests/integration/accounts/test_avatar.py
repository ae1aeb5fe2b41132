"""Avatar uploads: real images only, 5 MB cap, a 128 px thumbnail, metadata stripped."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers.accounts import register


def image_bytes(fmt: str, size=(400, 300), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


async def upload(client, member, data: bytes, name="a.png", content_type="image/png"):
    return await client.put(
        "/api/v1/users/me/avatar",
        headers=member.headers,
        files={"file": (name, data, content_type)},
    )


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
async def test_upload_makes_avatar_and_square_thumbnail(client, fmt):
    member = await register(client, "pictured")
    reply = await upload(client, member, image_bytes(fmt), content_type=f"image/{fmt.lower()}")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["avatar_url"].startswith("/media/avatars/")
    thumb = await client.get(body["avatar_thumbnail_url"])
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.size == (128, 128)
    original = await client.get(body["avatar_url"])
    with Image.open(io.BytesIO(original.content)) as image:
        assert image.size == (400, 300)
    profile = await client.get("/api/v1/users/pictured")
    assert profile.json()["avatar_thumbnail_url"] == body["avatar_thumbnail_url"]


async def test_replacing_and_deleting_removes_old_files(client):
    member = await register(client, "swapper")
    first = (await upload(client, member, image_bytes("PNG"))).json()
    second = (await upload(client, member, image_bytes("PNG", color=(0, 0, 255)))).json()
    assert second["avatar_url"] != first["avatar_url"]
    assert (await client.get(first["avatar_url"])).status_code == 404
    cleared = await client.delete("/api/v1/users/me/avatar", headers=member.headers)
    assert cleared.json()["avatar_url"] is None
    assert (await client.get(second["avatar_url"])).status_code == 404


async def test_exif_metadata_is_stripped(client):
    member = await register(client, "private_photo")
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS info
    exif[0x010F] = "SecretCam"
    Image.new("RGB", (50, 50)).save(buffer, format="JPEG", exif=exif)
    body = (await upload(client, member, buffer.getvalue(), content_type="image/jpeg")).json()
    stored = (await client.get(body["avatar_url"])).content
    assert b"SecretCam" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 400, "invalid_image"),
        (b"this is not an image at all", 415, "invalid_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 415, "invalid_image"),
        ("GIF", 415, "unsupported_image"),
    ],
)
async def test_bad_uploads_are_refused_and_change_nothing(client, data, status, code):
    member = await register(client, "badupload")
    if data == "GIF":
        data = image_bytes("GIF")
    reply = await upload(client, member, data)
    assert reply.status_code == status
    assert reply.json()["code"] == code
    me = (await client.get("/api/v1/users/me", headers=member.headers)).json()
    assert me["avatar_url"] is None


async def test_oversized_upload_is_413(client):
    member = await register(client, "bigpic")
    big = image_bytes("PNG") + b"\x00" * (5 * 1024 * 1024)
    reply = await upload(client, member, big)
    assert reply.status_code == 413
    way_too_big = await upload(client, member, b"\x00" * (8 * 1024 * 1024))
    assert way_too_big.status_code == 413
    me = (await client.get("/api/v1/users/me", headers=member.headers)).json()
    assert me["avatar_url"] is None


async def test_upload_needs_auth_and_a_file(client):
    anonymous = await client.put(
        "/api/v1/users/me/avatar", files={"file": ("a.png", image_bytes("PNG"), "image/png")}
    )
    assert anonymous.status_code == 401
    member = await register(client, "nofile")
    missing = await client.put("/api/v1/users/me/avatar", headers=member.headers)
    assert missing.status_code == 422
