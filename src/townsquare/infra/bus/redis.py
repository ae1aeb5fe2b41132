"""The cluster bus: one Redis pub/sub channel per room, a Redis Stream per durable room."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from importlib import resources
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

# Append, trim and publish one event for many durable rooms in one call (why: the script's header).
_PUBLISH_DURABLE = (resources.files("townsquare.infra.bus") / "publish_durable.lua").read_text(
    encoding="utf-8"
)

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
        check_name(room)
        check_name(event)
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
        check_name(event)
        args = fanout.args.encode()
        run: list[str] = []  # consecutive durable rooms, published by one script call
        for room in fanout.rooms:
            check_name(room)
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
