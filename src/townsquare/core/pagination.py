"""Opaque cursors for keyset pagination: stable while rows are added, never offsets."""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from townsquare.core.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    """One page of a list and the cursor for the next, absent on the last page."""

    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    """The `cursor` and `limit` query parameters every list endpoint takes."""

    cursor: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


def encode_cursor(position: dict[str, Any]) -> str:
    """Pack a keyset position (the sort key of the last row served) into an opaque string."""
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, keys: tuple[str, ...]) -> dict[str, Any]:
    """Unpack a cursor made by `encode_cursor`; a tampered or foreign one is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("Malformed cursor", code="invalid_cursor") from exc
    if not isinstance(value, dict) or set(value) != set(keys):
        raise ValidationFailed("Malformed cursor", code="invalid_cursor")
    return value


def decode_id_cursor(cursor: str) -> int:
    """Unpack a cursor whose only key is the last row's ID."""
    value = decode_cursor(cursor, keys=("id",))["id"]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed("Malformed cursor", code="invalid_cursor")
    return value
