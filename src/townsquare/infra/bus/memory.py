"""The embedded bus: handlers run in this process, history is kept in memory."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from townsquare.infra.bus.base import (
    BusMessage,
    Fanout,
    Handler,
    check_name,
    event_args,
    fanouts_of,
    is_durable,
    parse_offset,
    with_offset,
)

log = structlog.get_logger(__name__)


class OffsetClock:
    """Monotonic `<ms>-<seq>` offsets in the same shape as Redis Stream IDs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._seq = 0

    def next(self) -> tuple[int, int]:
        with self._lock:
            now = int(time.time() * 1000)
            if now > self._ms:
                self._ms, self._seq = now, 0
            else:
                self._seq += 1
            return self._ms, self._seq

    def reserve(self, count: int) -> tuple[int, int]:
        """Take `count` consecutive offsets at once (one lock for a whole fanout); the first."""
        with self._lock:
            now = int(time.time() * 1000)
            if now > self._ms:
                self._ms, self._seq = now, 0
            else:
                self._seq += 1
            first = self._ms, self._seq
            self._seq += count - 1
            return first


@dataclass(slots=True)
class _RoomHistory:
    entries: list[tuple[tuple[int, int], str, str, str]]  # (key, offset, event, args)
    max_deleted: tuple[int, int]


class InProcessBus:
    """Embedded bus: handlers run synchronously in publish order; history lives in memory."""

    def __init__(self, *, history_max_events: int = 500, history_max_age_seconds: int = 86400):
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._history: dict[str, _RoomHistory] = {}
        self._clock = OffsetClock()
        self._max_events = history_max_events
        self._max_age_ms = history_max_age_seconds * 1000
        self._started = self._clock.next()
        self._publishes = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._handlers.clear()

    async def ping(self) -> bool:
        return True

    async def publish(self, room: str, event: str, data: Any) -> str | None:
        return self.publish_now(room, event, data)

    async def publish_many(self, items: Iterable[tuple[str, str, Any]]) -> None:
        for fanout in fanouts_of(items):
            self.fanout_now(fanout)

    async def publish_fanouts(self, fanouts: Sequence[Fanout]) -> None:
        for fanout in fanouts:
            self.fanout_now(fanout)

    def publish_now(self, room: str, event: str, data: Any) -> str | None:
        """Publish without awaiting: the in-process path the gateway itself uses."""
        check_name(event)
        return self._publish_one(room, event, event_args(event, data))

    def fanout_now(self, fanout: Fanout) -> None:
        """Publish one pre-encoded event to each of its rooms, in order, without awaiting."""
        event, args, rooms = fanout.event, fanout.args, fanout.rooms
        check_name(event)
        if not rooms:
            return
        # offsets for every room at once; live rooms leave unused numbers, which is harmless
        # because offsets only have to increase
        ms, seq = self._clock.reserve(len(rooms))
        for room in rooms:
            self._publish_one(room, event, args, (ms, seq))
            seq += 1

    def _publish_one(
        self, room: str, event: str, args: str, key: tuple[int, int] | None = None
    ) -> str | None:
        # `args` is shared by every room of a fanout: the history keeps that one string and the
        # offset is spliced in only for a message someone here listens to.
        check_name(room)
        offset: str | None = None
        if is_durable(room):
            if key is None:
                key = self._clock.next()
            offset = f"{key[0]}-{key[1]}"
            self._remember(room, key, offset, event, args)
        handlers = self._handlers.get(room)
        if not handlers:
            return offset
        message = BusMessage(
            room, event, offset, args if offset is None else with_offset(args, offset)
        )
        for handler in tuple(handlers):
            try:
                handler(message)
            except Exception:
                log.exception("bus_handler_failed", room=room)
        return offset

    def _remember(
        self, room: str, key: tuple[int, int], offset: str, event: str, args: str
    ) -> None:
        history = self._history.get(room)
        if history is None:
            # a list, not a deque: most users hold a handful of events and an empty deque
            # alone costs ~600 bytes
            history = self._history[room] = _RoomHistory([], (0, 0))
        entries = history.entries
        entries.append((key, offset, event, args))
        if len(entries) > self._max_events or entries[0][0][0] < key[0] - self._max_age_ms:
            self._trim(history, key[0])
        self._publishes += 1
        # the sweep visits every room, so run it at most once per that many publishes
        if self._publishes >= 4096 and self._publishes >= len(self._history):
            self._publishes = 0
            self._sweep(key[0])

    def _trim(self, history: _RoomHistory, now_ms: int) -> None:
        entries = history.entries
        cut = len(entries) - self._max_events if len(entries) > self._max_events else 0
        while cut < len(entries) and entries[cut][0][0] < now_ms - self._max_age_ms:
            cut += 1
        if cut:
            history.max_deleted = entries[cut - 1][0]
            del entries[:cut]

    def _sweep(self, now_ms: int) -> None:
        """Forget rooms whose whole history has aged out, so idle users cost nothing."""
        cutoff = now_ms - self._max_age_ms
        # `history()` may have trimmed a room to nothing; an empty room is forgotten too
        for room in [
            r for r, h in self._history.items() if not h.entries or h.entries[-1][0][0] < cutoff
        ]:
            del self._history[room]

    async def subscribe(self, room: str, handler: Handler) -> None:
        self._handlers[room].append(handler)

    async def unsubscribe(self, room: str, handler: Handler) -> None:
        handlers = self._handlers.get(room)
        if handlers and handler in handlers:
            handlers.remove(handler)
            if not handlers:
                del self._handlers[room]

    async def history(self, room: str, after: str) -> list[BusMessage] | None:
        key = parse_offset(after)
        if key is None:
            return None
        now_ms = int(time.time() * 1000)
        history = self._history.get(room)
        if history is not None:
            self._trim(history, now_ms)
        if history is None or not history.entries:
            lost = key < self._started or key[0] < now_ms - self._max_age_ms
            if history is not None and key < history.max_deleted:
                lost = True
            return None if lost else []
        if key < history.max_deleted:
            return None
        return [
            BusMessage(room, event, offset, with_offset(args, offset))
            for entry_key, offset, event, args in history.entries
            if entry_key > key
        ]
