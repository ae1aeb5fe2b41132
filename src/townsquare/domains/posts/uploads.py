"""Streamed media uploads: the multipart body is parsed as it arrives and the file part goes
straight to a temporary file in the media folder, counted against the limit of its kind (known
from its first bytes), so a 50 MB video never sits in memory and an oversized one is refused
mid-stream with nothing stored."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from townsquare.config import Settings
from townsquare.core.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)

MEDIA_PATH = "/api/v1/media"
# room for the multipart envelope (boundaries, part headers, a few small fields)
ENVELOPE_BYTES = 64 * 1024
SNIFF_BYTES = 12
INCOMING = ".incoming"


def streamed_limits(settings: Settings) -> dict[str, int]:
    """The routes that stream their own body and the most each may send (for the HTTP cap)."""
    largest = max(settings.post_max_image_bytes, settings.post_max_video_bytes)
    return {MEDIA_PATH: largest + ENVELOPE_BYTES}


def kind_of(head: bytes) -> str:
    """`video`, `gif` or `image` from a file's first bytes (images are checked fully later)."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3":
        return "video"
    return "image"


@dataclass
class Incoming:
    """The file part of an upload, on disk in the media folder until it is kept or dropped."""

    path: Path
    size: int = 0
    head: bytes = b""
    kind: str | None = None

    def drop(self) -> None:
        """Remove the temporary file (refused, failed, or moved into place already)."""
        self.path.unlink(missing_ok=True)


@dataclass
class _Part:
    name: bytes = b""
    disposition: bytes = b""
    header_name: bytes = b""
    header_value: bytes = b""
    is_file: bool = False
    chunks: list[bytes] = field(default_factory=list)


class _FileReceiver:
    """python-multipart callbacks that keep the first `file` part and count everything."""

    def __init__(self, incoming: Incoming, *, image_limit: int, video_limit: int) -> None:
        self.incoming = incoming
        self.image_limit = image_limit
        self.video_limit = video_limit
        self.part = _Part()
        self.found = False
        self.pending: list[bytes] = []  # file bytes parsed but not yet written

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.part.header_name.lower() == b"content-disposition":
            self.part.disposition = self.part.header_value
        self.part.header_name, self.part.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.disposition)
        self.part.is_file = (
            not self.found and options.get(b"name") == b"file" and b"filename" in options
        )
        self.found = self.found or self.part.is_file

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.part.is_file:
            return  # other fields are ignored; the HTTP cap bounds them
        chunk = data[start:end]
        incoming = self.incoming
        incoming.size += len(chunk)
        if len(incoming.head) < SNIFF_BYTES:
            incoming.head += chunk[: SNIFF_BYTES - len(incoming.head)]
        if incoming.kind is None and len(incoming.head) >= SNIFF_BYTES:
            incoming.kind = kind_of(incoming.head)
        self._check()
        self.pending.append(chunk)

    def on_part_end(self) -> None:
        if self.part.is_file and self.incoming.kind is None:
            self.incoming.kind = kind_of(self.incoming.head)
            self._check()

    def _check(self) -> None:
        """Refuse as soon as the file is over its kind's limit (or over both, kind unknown)."""
        kind = self.incoming.kind
        if kind is None:
            limit = max(self.image_limit, self.video_limit)
        else:
            limit = self.image_limit if kind == "image" else self.video_limit
        if self.incoming.size > limit:
            what = "Images" if kind == "image" else "Videos and GIFs"
            raise PayloadTooLarge(f"{what} may be at most {_mb(limit)}", code="payload_too_large")


async def receive_file(
    content_type: str,
    stream: AsyncIterator[bytes],
    *,
    media_root: Path,
    image_limit: int,
    video_limit: int,
) -> Incoming:
    """Stream the `file` part of a multipart body to a temporary file under the media folder.

    Raises (and leaves nothing on disk) when the body is not multipart, has no file, or the
    file is over the limit of its kind; the caller owns the returned file and must drop it.
    """
    mime, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise ValidationFailed("Send the file as multipart/form-data", code="validation_failed")
    folder = media_root / INCOMING
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    incoming = Incoming(path=folder / f"{secrets.token_urlsafe(16)}.part")
    receiver = _FileReceiver(incoming, image_limit=image_limit, video_limit=video_limit)
    handle = await asyncio.to_thread(open, incoming.path, "wb")
    try:
        parser = MultipartParser(boundary, receiver.callbacks())
        async for chunk in stream:
            parser.write(chunk)
            if receiver.pending:
                data = b"".join(receiver.pending)
                receiver.pending.clear()
                await asyncio.to_thread(handle.write, data)
        parser.finalize()
        if receiver.pending:
            await asyncio.to_thread(handle.write, b"".join(receiver.pending))
    except MultipartParseError as exc:
        await _discard(handle, incoming)
        raise BadRequest("The multipart body is malformed", code="malformed_body") from exc
    except BaseException:
        await _discard(handle, incoming)
        raise
    await asyncio.to_thread(handle.close)
    if not receiver.found:
        await asyncio.to_thread(incoming.drop)
        raise ValidationFailed("Attach the file in a `file` field", code="validation_failed")
    if incoming.size == 0:
        await asyncio.to_thread(incoming.drop)
        raise BadRequest("The file is empty", code="invalid_media")
    return incoming


async def keep(incoming: Incoming, *, media_root: Path, key: str) -> None:
    """Move a received file to its key in the media folder (same file system: a rename)."""
    await asyncio.to_thread(_move, incoming.path, media_root, key)


def _move(source: Path, root: Path, key: str) -> None:
    target = (root / key).resolve()
    if root.resolve() not in target.parents:
        raise ValueError("media key escapes the media folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


async def _discard(handle: Any, incoming: Incoming) -> None:
    await asyncio.to_thread(handle.close)
    await asyncio.to_thread(incoming.drop)


def _mb(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{mib:g} MB" if mib >= 1 else f"{limit} bytes"


@dataclass(frozen=True, slots=True)
class Described:
    """What a received video or GIF is, as stored (they are kept as sent)."""

    kind: str
    content_type: str
    suffix: str
    width: int | None
    height: int | None


async def describe(incoming: Incoming) -> Described:
    """Type a received video or GIF by its bytes; a GIF must also have a readable header."""
    head = incoming.head
    if head[:6] in (b"GIF87a", b"GIF89a"):
        width, height = await asyncio.to_thread(_gif_size, incoming.path)
        return Described("gif", "image/gif", ".gif", width, height)
    if head[4:8] == b"ftyp":
        return Described("video", "video/mp4", ".mp4", None, None)
    return Described("video", "video/webm", ".webm", None, None)


def _gif_size(path: Path) -> tuple[int, int]:
    """The GIF's size from its header (Pillow opens lazily: no frame is decoded)."""
    try:
        with Image.open(path) as probe:
            width, height = probe.size
            return width, height
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise UnsupportedMediaType("The file is not a readable GIF", code="invalid_media") from None
