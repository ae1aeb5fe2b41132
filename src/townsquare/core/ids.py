"""Time-sortable 64-bit IDs, sent to clients as strings (JavaScript loses precision past 2^53)."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1


class IdGenerator:
    """Snowflake layout: 41 bits of milliseconds, 10 bits of node, 12 bits of sequence."""

    def __init__(self, node_id: int = 0) -> None:
        if not 0 <= node_id < (1 << NODE_BITS):
            raise ValueError("node_id must fit in 10 bits")
        self._node = node_id
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()

    def next_id(self) -> int:
        """Return a fresh ID, strictly greater than any this generator returned before."""
        with self._lock:
            now = int(time.time() * 1000) - EPOCH_MS
            if now <= self._last_ms:
                now = self._last_ms
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:
                    now += 1  # borrow the next millisecond rather than repeat an ID
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                (now << (NODE_BITS + SEQUENCE_BITS))
                | (self._node << SEQUENCE_BITS)
                | (self._sequence)
            )


_generator = IdGenerator()


def configure(node_id: int) -> None:
    """Give this process its node number so IDs from several processes never collide."""
    global _generator
    _generator = IdGenerator(node_id)


def new_id() -> int:
    """A new time-sortable ID from this process's generator."""
    return _generator.next_id()


def _parse_id(value: Any) -> Any:
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        return int(value)
    return value


Id = Annotated[
    int,
    BeforeValidator(_parse_id),
    PlainSerializer(lambda v: str(v), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,19}$"}),
]
"""An ID field: accepts an int or a digit string, always serialized to JSON as a string."""
