"""Untrusted image bytes → a clean image: real format checked, orientation applied, metadata gone.

Shared by every upload path (avatars, post media, chat attachments); each caller turns
`ImageRejected` into its own error code and picks its own thumbnail shape.
"""

from __future__ import annotations

import io
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

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
