"""The event bus between domain actions and gateways: in-process, or Redis in cluster mode.

Topics are room names. A gateway node subscribes only to the rooms it has local members for, so
with Redis (one pub/sub channel per room) each message reaches only the nodes that need it.

Rooms named `user:<id>` are durable: every event gets a per-user offset and is kept in a history
window (a list in memory, a Redis Stream in cluster mode) so a reconnecting client can recover
what it missed. Other rooms (streams, stories, benchmarks) are live-only.

A message travels pre-serialised: `args` is the JSON array of the Socket.IO EVENT packet
(`["event", data]`, plus `{"offset": ...}` for durable rooms), so a gateway frames it once for
every recipient without decoding it. One event addressed to many rooms (a post to every online
follower) is serialised once (`Fanout`); each durable room only splices its own offset in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from townsquare.core.events import Delivery

if TYPE_CHECKING:
    from townsquare.config import Settings

log = structlog.get_logger(__name__)

DURABLE_PREFIX = "user:"


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One event for one room; `args` is the ready-to-frame JSON array of the EVENT packet."""

    room: str
    event: str
    offset: str | None
    args: str

    def data(self) -> Any:
        """The event's payload, decoded (only the rare control events need it)."""
        return json.loads(self.args)[1]


@dataclass(frozen=True, slots=True)
class Fanout:
    """One event for many rooms, serialised once: `args` is `["event", data]` without offset."""

    rooms: tuple[str, ...]
    event: str
    args: str


Handler = Callable[[BusMessage], None]


def is_durable(room: str) -> bool:
    """Per-user rooms get offsets and history; every other room is live-only."""
    return room.startswith(DURABLE_PREFIX)


def parse_offset(offset: str) -> tuple[int, int] | None:
    """Offsets are `<ms>-<seq>` (Redis Stream IDs); None when the text is not one."""
    ms, sep, seq = offset.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit() or len(offset) > 41:
        return None
    return int(ms), int(seq)


def event_args(event: str, data: Any) -> str:
    """The JSON array `["event", data]` of a Socket.IO EVENT packet."""
    return json.dumps([event, data], separators=(",", ":"), ensure_ascii=False)


def with_offset(args: str, offset: str) -> str:
    """Append the offset argument to a serialised `["event", data]` array."""
    return args[:-1] + ',{"offset":"' + offset + '"}]'


def _check_name(name: str) -> None:
    if not name or "\n" in name or len(name) > 200:
        raise ValueError(f"invalid room or event name: {name!r}")


class Bus(Protocol):
    """Publish events to rooms; subscribers of a room on any node receive them."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...
    async def publish(self, room: str, event: str, data: Any) -> str | None: ...
    async def publish_many(self, items: Iterable[tuple[str, str, Any]]) -> None: ...
    async def publish_fanouts(self, fanouts: Sequence[Fanout]) -> None: ...
    async def subscribe(self, room: str, handler: Handler) -> None: ...
    async def unsubscribe(self, room: str, handler: Handler) -> None: ...
    async def history(self, room: str, after: str) -> list[BusMessage] | None: ...


async def publish_deliveries(bus: Bus, deliveries: list[Delivery]) -> None:
    """Publish committed events in order, each serialised once however many rooms it names."""
    fanouts = [
        Fanout(
            delivery.rooms,
            delivery.event.type,
            event_args(delivery.event.type, delivery.event.payload()),
        )
        for delivery in deliveries
        if delivery.rooms
    ]
    if fanouts:
        await bus.publish_fanouts(fanouts)


def fanouts_of(items: Iterable[tuple[str, str, Any]]) -> list[Fanout]:
    """Group `(room, event, data)` runs that share one data object, so each is encoded once."""
    out: list[Fanout] = []
    rooms: list[str] = []
    last_event = ""
    last_data: Any = None
    for room, event, data in items:
        if rooms and (data is not last_data or event != last_event):
            out.append(Fanout(tuple(rooms), last_event, event_args(last_event, last_data)))
            rooms = []
        rooms.append(room)
        last_event, last_data = event, data
    if rooms:
        out.append(Fanout(tuple(rooms), last_event, event_args(last_event, last_data)))
    return out


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
        _check_name(event)
        return self._publish_one(room, event, event_args(event, data))

    def fanout_now(self, fanout: Fanout) -> None:
        """Publish one pre-encoded event to each of its rooms, in order, without awaiting."""
        event, args, rooms = fanout.event, fanout.args, fanout.rooms
        _check_name(event)
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
        _check_name(room)
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


# One call publishes one event to many user rooms: KEYS are each room's stream and channel in
# pairs, ARGV the window, the event, its arguments (sent once), then each room's name; it returns
# the offset for one room, else the count (10,000 offsets nobody reads cost the client ~40 ms
# to parse). Trim with XDEL rather than MAXLEN/MINID: only XDEL advances the
# stream's max-deleted-entry-id, which is how `history` knows whether the window still reaches
# back.
_PUBLISH_DURABLE = """
local max_events, event, args = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local body = string.sub(args, 1, -2) .. ',{"offset":"'
local t = redis.call('TIME')
local min_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[4])
local range_end = '(' .. string.format('%d', min_ms) .. '-0'
local ids = {}
for i = 1, #KEYS / 2 do
  local stream = KEYS[2 * i - 1]
  local id = redis.call('XADD', stream, '*', 'e', event, 'a', args)
  local doomed = {}
  local excess = redis.call('XLEN', stream) - max_events
  if excess > 0 then
    for _, e in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)) do
      doomed[#doomed + 1] = e[1]
    end
  end
  if min_ms > 0 then
    for _, e in ipairs(redis.call('XRANGE', stream, '-', range_end, 'COUNT', 1000)) do
      doomed[#doomed + 1] = e[1]
    end
  end
  if #doomed > 0 then redis.call('XDEL', stream, unpack(doomed)) end
  redis.call('PEXPIRE', stream, ARGV[4])
  redis.call('PUBLISH', KEYS[2 * i],
    ARGV[4 + i] .. '\\n' .. event .. '\\n' .. id .. '\\n' .. body .. id .. '"}]')
  ids[i] = id
end
if #ids == 1 then return ids[1] end
return #ids
"""

# Rooms per script call: long enough to send the arguments rarely, short enough that Redis,
# which runs a script without interruption, is never held for more than a few milliseconds.
ROOMS_PER_SCRIPT = 256


class RedisBus:
    """Cluster bus: one pub/sub channel per room, subscribed on demand; Streams for history."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ts:",
        history_max_events: int = 500,
        history_max_age_seconds: int = 86400,
    ) -> None:
        from redis import asyncio as aioredis

        self.client_name = f"{prefix}bus-{secrets.token_hex(4)}"
        self._redis = aioredis.from_url(url, client_name=self.client_name)
        self._pubsub = self._redis.pubsub()
        self._resync_handlers: list[Callable[[str], Awaitable[None]]] = []
        self._resync_tasks: set[asyncio.Task[None]] = set()
        self._prefix = prefix
        self._channel_prefix = prefix + "room:"
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._confirm: dict[bytes, deque[asyncio.Future[None]]] = defaultdict(deque)
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._max_events = history_max_events
        self._max_age_ms = history_max_age_seconds * 1000
        self._script = self._redis.register_script(_PUBLISH_DURABLE)

    @property
    def redis(self) -> Any:
        """The client, shared with presence and idempotency stores of the same node."""
        return self._redis

    @property
    def prefix(self) -> str:
        return self._prefix

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_loop(), name="redis-bus-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    def _stream_key(self, room: str) -> str:
        return self._prefix + "stream:" + room

    async def publish(self, room: str, event: str, data: Any) -> str | None:
        _check_name(room)
        _check_name(event)
        args = event_args(event, data)
        channel = self._channel_prefix + room
        if not is_durable(room):
            await self._redis.publish(channel, f"{room}\n{event}\n\n{args}")
            return None
        offset = await self._script(
            keys=[self._stream_key(room), channel],
            args=[self._max_events, event, args, self._max_age_ms, room],
        )
        return offset.decode() if isinstance(offset, bytes) else str(offset)

    async def publish_many(self, items: Iterable[tuple[str, str, Any]]) -> None:
        """Publish in order with one round trip: a transaction's events to many rooms."""
        await self.publish_fanouts(fanouts_of(items))

    async def publish_fanouts(self, fanouts: Sequence[Fanout]) -> None:
        """Publish in order in one round trip, each payload sent once per script call of rooms."""
        if not fanouts:
            return
        if len(fanouts) == 1 and len(fanouts[0].rooms) == 1:
            only = fanouts[0]
            await self._send(self._redis, only)
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for fanout in fanouts:
                await self._send(pipe, fanout)
            await pipe.execute()

    async def _send(self, client: Any, fanout: Fanout) -> None:
        """Issue one fanout's commands on `client` (a pipeline, or the client for one room)."""
        event = fanout.event
        _check_name(event)
        args = fanout.args.encode()
        run: list[str] = []  # consecutive durable rooms, published by one script call
        for room in fanout.rooms:
            _check_name(room)
            if is_durable(room):
                run.append(room)
                if len(run) == ROOMS_PER_SCRIPT:
                    await self._send_durable(client, run, event, args)
                    run = []
                continue
            if run:
                await self._send_durable(client, run, event, args)
                run = []
            await client.publish(
                self._channel_prefix + room, f"{room}\n{event}\n\n".encode() + args
            )
        if run:
            await self._send_durable(client, run, event, args)

    async def _send_durable(self, client: Any, rooms: list[str], event: str, args: bytes) -> None:
        keys: list[str] = []
        for room in rooms:
            keys.append(self._stream_key(room))
            keys.append(self._channel_prefix + room)
        await self._script(
            keys=keys,
            args=[self._max_events, event, args, self._max_age_ms, *rooms],
            client=client,
        )

    async def subscribe(self, room: str, handler: Handler) -> None:
        """Subscribe and wait until Redis confirms, so history read next cannot miss a message."""
        first = room not in self._handlers
        self._handlers[room].append(handler)
        if not first:
            return
        channel = (self._channel_prefix + room).encode()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirm[channel].append(future)
        await self._pubsub.subscribe(channel)
        self._subscribed.set()
        try:
            await asyncio.wait_for(future, timeout=5.0)
        except TimeoutError:
            log.warning("redis_subscribe_unconfirmed", room=room)

    async def unsubscribe(self, room: str, handler: Handler) -> None:
        handlers = self._handlers.get(room)
        if handlers and handler in handlers:
            handlers.remove(handler)
            if not handlers:
                del self._handlers[room]
                await self._pubsub.unsubscribe(self._channel_prefix + room)

    async def history(self, room: str, after: str) -> list[BusMessage] | None:
        key = parse_offset(after)
        if key is None:
            return None
        stream = self._stream_key(room)
        try:
            info = await self._redis.xinfo_stream(stream)
        except Exception as exc:  # the stream does not exist: no events within the window
            if "no such key" not in str(exc).lower():
                raise
            now_ms = int(time.time() * 1000)
            return None if key[0] < now_ms - self._max_age_ms else []
        deleted = info.get("max-deleted-entry-id") or b"0-0"
        deleted_key = parse_offset(deleted.decode() if isinstance(deleted, bytes) else deleted)
        if deleted_key is None or key < deleted_key:
            return None
        entries: Any = await self._redis.xrange(stream, min=f"({key[0]}-{key[1]}")
        out = []
        for entry_id, fields in entries or ():
            offset = entry_id.decode()
            event = fields[b"e"].decode()
            out.append(BusMessage(room, event, offset, with_offset(fields[b"a"].decode(), offset)))
        return out

    def on_resync(self, handler: Callable[[str], Awaitable[None]]) -> None:
        """Call `handler(room)` when a room's subscription was lost and has just been restored.

        redis-py reconnects a dropped pub/sub connection and re-subscribes every channel; the
        unsolicited confirmation tells us messages for that room may have reached nobody here.
        A gateway uses this to replay durable events from the room's stream.
        """
        self._resync_handlers.append(handler)

    async def _read_loop(self) -> None:
        while True:
            if not self._pubsub.subscribed:
                self._subscribed.clear()
                await self._subscribed.wait()
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("redis_bus_read_failed", exc_info=True)
                await asyncio.sleep(0.5)  # redis-py reconnects and re-subscribes on the next read
                continue
            if message is None:
                continue
            kind = message.get("type")
            if kind == "subscribe":
                waiters = self._confirm.get(message["channel"])
                if waiters:
                    future = waiters.popleft()
                    if not future.done():
                        future.set_result(None)
                    if not waiters:
                        del self._confirm[message["channel"]]
                else:  # nobody asked: a re-subscription after a reconnect
                    channel = message["channel"]
                    room = (channel.decode() if isinstance(channel, bytes) else channel)[
                        len(self._channel_prefix) :
                    ]
                    task = asyncio.create_task(self._resync(room))
                    self._resync_tasks.add(task)
                    task.add_done_callback(self._resync_tasks.discard)
                continue
            if kind != "message":
                continue
            self._dispatch(message["data"])

    async def _resync(self, room: str) -> None:
        log.info("redis_bus_resync", room=room)
        for handler in self._resync_handlers:
            try:
                await handler(room)
            except Exception:
                log.exception("redis_bus_resync_failed", room=room)

    def _dispatch(self, raw: bytes) -> None:
        text = raw.decode()
        room, _, rest = text.partition("\n")
        event, _, rest = rest.partition("\n")
        offset, _, args = rest.partition("\n")
        msg = BusMessage(room, event, offset or None, args)
        for handler in tuple(self._handlers.get(room, ())):
            try:
                handler(msg)
            except Exception:
                log.exception("bus_handler_failed", room=room)


def make_bus_for(settings: Settings) -> Bus:
    """The bus a process should use: Redis keys under the namespace, the configured window."""
    return make_bus(
        settings.redis_url,
        prefix=f"{settings.redis_namespace}:",
        history_max_events=settings.gateway_history_max_events,
        history_max_age_seconds=settings.gateway_history_max_age_seconds,
    )


def make_bus(
    redis_url: str | None,
    *,
    prefix: str = "ts:",
    history_max_events: int = 500,
    history_max_age_seconds: int = 86400,
) -> Bus:
    """Redis when a URL is configured, else the in-process bus."""
    if redis_url:
        return RedisBus(
            redis_url,
            prefix=prefix,
            history_max_events=history_max_events,
            history_max_age_seconds=history_max_age_seconds,
        )
    return InProcessBus(
        history_max_events=history_max_events, history_max_age_seconds=history_max_age_seconds
    )
