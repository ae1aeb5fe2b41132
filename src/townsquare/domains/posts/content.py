"""Post text handling: sanitizing HTML, finding #hashtags and @mentions, checking uploads."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

import nh3
from PIL import Image, UnidentifiedImageError

from townsquare.core.errors import AppError, BadRequest, PayloadTooLarge, UnsupportedMediaType
from townsquare.infra.images import ImageRejected, decode_image, webp_bytes

ALLOWED_TAGS = {
    "b",
    "i",
    "em",
    "strong",
    "a",
    "br",
    "p",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "blockquote",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
HASHTAG = re.compile(r"(?<![\w&#/])#([A-Za-z][A-Za-z0-9_]{0,49})")
MENTION = re.compile(r"(?<![\w@/.])@([A-Za-z0-9_]{3,30})")
TAG_HTML = re.compile(r"<[^>]*>")


def sanitize(text: str) -> str:
    """Keep a few formatting tags and safe links; everything that could run script goes."""
    return nh3.clean(
        text,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    ).strip()


def plain(text: str) -> str:
    """The visible text of sanitized HTML, for parsing and search."""
    return html.unescape(TAG_HTML.sub(" ", text))


def normalize_tag(tag: str) -> str:
    return tag.lstrip("#").lower()


def find_tags(text: str, explicit: list[str]) -> list[str]:
    """Hashtags in the text and those given explicitly, lower-cased, first mention first."""
    found = [normalize_tag(t) for t in explicit] + [m.lower() for m in HASHTAG.findall(plain(text))]
    return list(dict.fromkeys(found))[:30]


def find_mentions(text: str) -> list[str]:
    """Candidate @usernames, in order, each once; resolving them is the caller's job."""
    return list(dict.fromkeys(MENTION.findall(plain(text))))[:50]


@dataclass(frozen=True, slots=True)
class ProcessedUpload:
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
