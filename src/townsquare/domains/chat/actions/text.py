"""What a chat line may hold: sanitized, non-empty and within the length limit."""

from __future__ import annotations

import re

from townsquare.core.errors import ValidationFailed
from townsquare.core.text import plain, sanitize
from townsquare.domains.chat.schemas import MAX_TEXT

# what makes the sanitizer's output differ from the input (markup, entities, CR, NUL, NBSP, BOM)
NEEDS_SANITIZER = re.compile("[<>&\r\x00\u00a0\ufeff]")


def sanitize_text(raw: str) -> tuple[str, str]:
    """(stored, visible) text. Most chat lines hold nothing the HTML sanitizer would change;
    those skip it (a unit test checks the shortcut gives the sanitizer's answer)."""
    if NEEDS_SANITIZER.search(raw) is None:
        clean = raw.strip()
        return clean, clean
    clean = sanitize(raw)
    return clean, plain(clean).strip()


async def check_text(raw: str, *, optional: bool = False) -> str:
    """The stored text; refuses empty (unless `optional`, for a caption) and overlong text."""
    clean, visible = sanitize_text(raw)
    if not visible and optional:
        return ""
    if not visible:
        raise ValidationFailed("A message needs text", code="empty_message")
    if len(visible) > MAX_TEXT or len(clean) > 4 * MAX_TEXT:
        raise ValidationFailed(f"A message has at most {MAX_TEXT} characters", code="text_too_long")
    return clean
