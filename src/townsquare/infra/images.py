"""Untrusted image bytes → a clean image: real format checked, orientation applied, metadata gone.

Shared by every upload path (avatars, post media, chat attachments); each caller turns
`ImageRejected` into its own error code and picks its own thumbnail shape. `process_upload`
recognises a media upload (image, GIF, video) by its bytes for posts and chat alike.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from townsquare.core.errors import AppError, BadRequest, PayloadTooLarge, UnsupportedMediaType

STILL_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MAX_PIXELS = 40_000_000

Reason = Literal["unsupported", "unreadable", "too_many_pixels"]


class ImageRejected(Exception):
    """The bytes are not an image we accept, and why."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


def decode_image(
    data: bytes, *, formats: frozenset[str] = STILL_FORMATS, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Check the format and pixel count from the header before decoding (decompression bombs)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
        if fmt not in formats:
            raise ImageRejected("unsupported")
        if width * height > max_pixels:
            raise ImageRejected("too_many_pixels")
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            oriented = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ImageRejected("unreadable") from exc
    mode = "RGBA" if oriented.mode in ("RGBA", "LA", "P") else "RGB"
    return oriented.convert(mode)  # a fresh image: EXIF, GPS and other metadata are not copied


def webp_bytes(image: Image.Image, *, quality: int) -> bytes:
    """Encode as WebP (small, alpha-capable, supported by every current browser)."""
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=quality)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class ProcessedUpload:
    """An accepted upload ready to store: its bytes, a thumbnail for images, its size."""

    kind: str
    content_type: str
    suffix: str
    data: bytes
    thumbnail: bytes | None
    width: int | None
    height: int | None


def process_upload(
    data: bytes, *, max_image_bytes: int, max_video_bytes: int, thumb_px: int
) -> ProcessedUpload:
    """Recognise an upload by its bytes: images are re-encoded with a thumbnail, GIF and video
    are accepted by type and size (they are stored as sent)."""
    if not data:
        raise BadRequest("The file is empty", code="invalid_media")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        _limit(data, max_image_bytes)
        width, height = _dimensions(data)
        return ProcessedUpload("gif", "image/gif", ".gif", data, None, width, height)
    if data[4:8] == b"ftyp":
        _limit(data, max_video_bytes)
        return ProcessedUpload("video", "video/mp4", ".mp4", data, None, None, None)
    if data[:4] == b"\x1a\x45\xdf\xa3":
        _limit(data, max_video_bytes)
        return ProcessedUpload("video", "video/webm", ".webm", data, None, None, None)
    _limit(data, max_image_bytes)
    return _process_image(data, thumb_px=thumb_px)


def _limit(data: bytes, limit: int) -> None:
    if len(data) > limit:
        raise PayloadTooLarge(f"This file may be at most {limit // (1024 * 1024)} MB")


def _dimensions(data: bytes) -> tuple[int | None, int | None]:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return probe.size
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise UnsupportedMediaType("The file is not a readable GIF", code="invalid_media") from None


def _process_image(data: bytes, *, thumb_px: int) -> ProcessedUpload:
    try:
        clean = decode_image(data)
    except ImageRejected as exc:
        raise _media_error(exc.reason) from exc
    thumb = clean.copy()
    thumb.thumbnail((thumb_px, thumb_px), Image.Resampling.LANCZOS)
    return ProcessedUpload(
        "image",
        "image/webp",
        ".webp",
        webp_bytes(clean, quality=88),
        webp_bytes(thumb, quality=80),
        clean.width,
        clean.height,
    )


def _media_error(reason: str) -> AppError:
    if reason == "unsupported":
        return UnsupportedMediaType(
            "Attach JPEG, PNG, WebP or GIF images, or MP4/WebM video", code="unsupported_media"
        )
    if reason == "too_many_pixels":
        return PayloadTooLarge("The image has too many pixels", code="image_too_large")
    return UnsupportedMediaType("The file is not a readable image or video", code="invalid_media")
