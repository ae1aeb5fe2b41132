"""The real-time gateway: Engine.IO v4 sessions, the `/realtime` Socket.IO namespace, rooms and
fan-out, recovery by per-user offsets, limits, and connection reports for presence.

`Gateway` is assembled from its parts: `engineio` (handshake, polling, upgrade), `connection`
(connect, disconnect, expiry), `recovery` (offsets and history replay) and `dispatch` (events,
acks, handler calls). This module keeps the rooms and the delivery hot path.

Hot path: a bus message for a room is framed once (`42/realtime,[...]` inside one WebSocket
frame) and the same bytes are written to every local member's transport, with no task or queue
per recipient. A member whose kernel send buffer backs up past `max_buffer` is dropped as a
slow consumer; it reconnects and recovers what it missed from its offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import secrets
import time
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry

from townsquare.core.errors import Forbidden, RateLimited
from townsquare.infra.bus import BusMessage, InProcessBus
from townsquare.infra.ratelimit import RateLimiter, Rule
from townsquare.realtime import protocol as p
from townsquare.realtime.connection import NAMESPACE, Connection, ConnectionLifecycle
from townsquare.realtime.dispatch import Dispatch
from townsquare.realtime.engineio import PATH, EngineIO
from townsquare.realtime.idempotency import IdempotencyStore, MemoryIdempotency, RedisIdempotency
from townsquare.realtime.metrics import GatewayMetrics
from townsquare.realtime.recovery import Recovery
from townsquare.realtime.registry import HandlerContext, HandlerRegistry
from townsquare.realtime.rooms import ROOM_LEFT_EVENT, evicted_room
from townsquare.realtime.transport import HttpConn

if TYPE_CHECKING:
    from townsquare.context import AppContext
    from townsquare.realtime.hooks import GatewayHooks

# Fewer, later collections (with freeze_gc): under the defaults (700, 10, 10) the chat benchmark
# saw a full collection every second or two, each scanning every live object (up to 95 ms with
# 1,000 connections) — that was its p99. Most garbage cycles still die young. Decision 0102.
GC_THRESHOLDS = (10_000, 20, 100)

log = structlog.get_logger(__name__)

STATUS_EVENT = "account:status_changed"
SESSION_REVOKED_EVENT = "account:session_revoked"
# events the gateway acts on before passing them to the user's connections
_CONTROL_EVENTS = frozenset({STATUS_EVENT, SESSION_REVOKED_EVENT, ROOM_LEFT_EVENT})
# how often a join re-asks the room's policy when evictions keep landing while it asks
_JOIN_ATTEMPTS = 3


class Gateway(EngineIO, ConnectionLifecycle, Recovery, Dispatch):
    """The Socket.IO-compatible gateway of one process: start it on its own port."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        registry: HandlerRegistry | None = None,
        hooks: GatewayHooks | None = None,
        metrics_registry: CollectorRegistry | None = None,
        node_id: str | None = None,
        freeze_gc: bool = True,
    ) -> None:
        s = ctx.settings
        hooks = hooks or ctx.gateway_hooks
        if hooks is None:
            raise ValueError("the gateway needs the app's hooks (AppContext.create sets them)")
        self.freeze_gc = freeze_gc
        self.expiry_check_seconds = 1.0
        self.ctx = ctx
        self.registry = registry if registry is not None else hooks.registry
        self.authenticate = hooks.authenticate
        self.metrics_registry = metrics_registry if metrics_registry is not None else ctx.registry
        self.metrics = GatewayMetrics(self.metrics_registry)
        self.node_id = node_id or f"{s.node_id}-{secrets.token_hex(4)}"
        self.ping_interval = s.gateway_ping_interval_seconds
        self.ping_timeout = s.gateway_ping_timeout_seconds
        self.max_payload = s.gateway_max_payload_bytes
        self.max_buffer = s.gateway_max_buffer_bytes
        self.max_http_body = max(self.max_payload * 16, 1024 * 1024)
        self.max_ws_message = self.max_http_body
        self.max_rooms = s.gateway_max_rooms_per_connection
        self.max_conns_per_user = s.gateway_max_connections_per_user
        self.cors_origins = s.gateway_cors_origins
        self.events_rule = Rule(s.gateway_events_per_second, 1)
        self.named_rules = {"chat": Rule(s.gateway_chat_messages_per_minute, 60)}
        self.limiter: RateLimiter = ctx.limiter
        self.conn_listener = hooks.connections(ctx)
        self.presence_sweep_seconds = s.gateway_presence_sweep_seconds
        self.presence_ttl_seconds = s.gateway_presence_ttl_seconds
        redis = getattr(ctx.bus, "redis", None)
        self.idempotency: IdempotencyStore = (
            RedisIdempotency(redis, prefix=getattr(ctx.bus, "prefix", "ts:"))
            if redis is not None
            else MemoryIdempotency()
        )
        self.sessions: dict[str, Connection] = {}
        self.rooms: dict[str, set[Connection]] = {}
        self.tcp: set[HttpConn] = set()
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._dirty: list[Connection] = []
        # one bound method for every subscription (each `self._on_bus` access makes a new one)
        self._bus_handler = self._on_bus
        # token expiries: a heap checked every second, cheaper than a timer per connection
        self._expiries: list[tuple[float, int, Connection]] = []
        self._seq = itertools.count()
        self._flush_scheduled = False

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 picks a free port); return the bound port."""
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: HttpConn(self), host, port, backlog=4096, reuse_address=True
        )
        self._loops = [
            asyncio.create_task(self._ping_loop(), name="gateway-ping"),
            asyncio.create_task(self._presence_loop(), name="gateway-presence"),
            asyncio.create_task(self._expiry_loop(), name="gateway-expiry"),
        ]
        self.ctx.readiness_probes["gateway"] = self.ready
        on_resync = getattr(self.ctx.bus, "on_resync", None)
        if on_resync is not None:
            on_resync(self._resync)
        if self.freeze_gc:
            # Start-up objects (modules, ORM metadata) never die; keeping them out of the cyclic
            # collector stops full collections from pausing fan-out for tens of milliseconds.
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
        bound = self.server.sockets[0].getsockname()[1]
        log.info("gateway_started", host=host, port=bound, node=self.node_id)
        return int(bound)

    async def stop(self) -> None:
        """Close every connection (clients reconnect elsewhere) and stop listening."""
        if self.server is not None:
            self.server.close()
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for conn in list(self.sessions.values()):
            self.close(conn, "server shutting down")
        for http in list(self.tcp):
            http.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None

    async def ready(self) -> bool:
        """For /readyz: listening, and the bus (Redis in cluster mode) answers."""
        return self.server is not None and self.server.is_serving() and await self.ctx.bus.ping()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # writing ---------------------------------------------------------------------------------

    def mark_dirty(self, conn: Connection) -> None:
        self._dirty.append(conn)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write each connection's queued frames at once; drop those that cannot keep up."""
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, []
        limit = self.max_buffer
        for conn in dirty:
            frames, conn.pending = conn.pending, None
            if frames is None or conn.closed or conn.ws is None:
                continue
            transport = conn.ws.transport
            if transport is None or conn.ws.closed:
                continue
            if transport.get_write_buffer_size() > limit:
                self.drop_slow(conn)
                continue
            transport.write(frames[0] if len(frames) == 1 else b"".join(frames))
            if len(frames) > 1 and transport.get_write_buffer_size() > limit:
                self.drop_slow(conn)  # a burst the client could not take

    def _flush_one(self, conn: Connection) -> None:
        """Write a connection's queued frames now (before a close frame, say)."""
        frames, conn.pending = conn.pending, None
        if frames and conn.ws is not None and conn.ws.transport is not None:
            conn.ws.transport.write(b"".join(frames))

    # rooms and fan-out -------------------------------------------------------------------------

    async def _add_member(self, conn: Connection, room: str) -> None:
        members = self.rooms.get(room)
        conn.rooms.add(room)
        if members is None:
            members = self.rooms[room] = set()
            members.add(conn)
            await self.ctx.bus.subscribe(room, self._bus_handler)
        else:
            members.add(conn)

    async def _remove_member(self, conn: Connection, room: str) -> None:
        conn.rooms.discard(room)
        members = self.rooms.get(room)
        if members is None:
            return
        members.discard(conn)
        if not members:
            del self.rooms[room]
            await self.ctx.bus.unsubscribe(room, self._bus_handler)

    async def join_room(self, conn: Connection, room: str, *, ctx: HandlerContext) -> None:
        """Join after the owning domain's policy agrees; refusals raise and change nothing."""
        if room in conn.rooms:
            return
        if room.startswith("user:") or not room or len(room) > 200 or "\n" in room:
            raise Forbidden("This room cannot be joined", code="room_forbidden")
        policy = self.registry.policy_for(room)
        if policy is None:
            raise Forbidden("No such room", code="room_forbidden")
        if len(conn.rooms) >= self.max_rooms + 1:  # +1: the user's own room
            raise RateLimited(
                "Too many rooms on this connection", code="too_many_rooms", retry_after=1
            )
        for _ in range(_JOIN_ATTEMPTS):
            seen = conn.evictions
            await policy(ctx, room)
            if conn.evictions == seen:
                break
            # an eviction landed while the policy was reading: its answer may predate the
            # change that caused it, so ask again (the change is committed by now)
        else:
            raise Forbidden("Room membership is changing; try again", code="room_forbidden")
        if conn.closed:
            return
        await self._add_member(conn, room)

    async def leave_room(self, conn: Connection, room: str) -> None:
        """Leave a room the connection joined; its own user room stays."""
        if room in conn.rooms and not room.startswith("user:"):
            await self._remove_member(conn, room)

    def _on_bus(self, msg: BusMessage) -> None:
        """Write one bus message to every local member of its room, encoded once."""
        members = self.rooms.get(msg.room)
        if not members:
            return
        if msg.event in _CONTROL_EVENTS:
            if msg.event == ROOM_LEFT_EVENT:
                self._on_room_left(msg, members)  # then passed on like any event
            else:
                self._on_account_event(msg, members)
                return
        started = time.perf_counter()
        text = "42/realtime," + msg.args
        frame = p.ws_text(text)
        # Safe to iterate the live set: drops and closes only mark connections and defer
        # their removal from rooms to a task.
        if msg.offset is None:
            for conn in members:
                conn.push(frame, text)
        else:
            for conn in members:
                conn.deliver(msg, frame, text)
        self.metrics.events_out.labels(msg.event).inc(len(members))
        self.metrics.fanout_seconds.observe(time.perf_counter() - started)

    def _on_account_event(self, msg: BusMessage, members: set[Connection]) -> None:
        """Suspensions and bans end every connection of the user; a revoked session its own."""
        try:
            data = msg.data()
        except ValueError:
            return
        text = "42/realtime," + msg.args
        frame = p.ws_text(text)
        for conn in tuple(members):
            if msg.offset is not None:
                conn.deliver(msg, frame, text)
            else:
                conn.push(frame, text)
            if msg.event == STATUS_EVENT and data.get("status") != "active":
                status = data.get("status")
                self.disconnect(conn, f"account_{status}", f"This account is {status}")
            elif (
                msg.event == SESSION_REVOKED_EVENT
                and conn.principal is not None
                and str(data.get("session_id")) == str(conn.principal.session_id)
            ):
                self.disconnect(conn, "session_revoked", "This session has ended; sign in again")

    def _on_room_left(self, msg: BusMessage, members: set[Connection]) -> None:
        """A domain ended the user's right to a room: take all their connections here out of it."""
        room = evicted_room(msg)
        if room is not None:
            for conn in tuple(members):
                self._evict(conn, room)

    def _evict(self, conn: Connection, room: str) -> None:
        """Leave `room` now, synchronously, so not one more broadcast of it reaches `conn`."""
        conn.evictions += 1
        if room not in conn.rooms:
            return
        conn.rooms.discard(room)
        self.metrics.room_evictions.inc()
        members = self.rooms.get(room)
        if members is None:
            return
        members.discard(conn)
        if not members:
            del self.rooms[room]
            self._spawn(self.ctx.bus.unsubscribe(room, self._bus_handler))

    def drop_slow(self, conn: Connection) -> None:
        """Drop a client that cannot keep up; it reconnects and recovers from its offset."""
        if conn.closed:
            return
        self.metrics.slow_consumers.inc()
        conn.closed = True  # no further writes from here on
        conn.pending = None
        text = p.encode_event(
            NAMESPACE,
            p.dumps(
                ["error", {"code": "slow_consumer", "message": "The connection could not keep up"}]
            ),
        )
        ws = conn.ws
        if ws is not None and ws.transport is not None:
            ws.transport.write(p.ws_text(text))
            asyncio.get_running_loop().call_later(5.0, ws.abort)
        else:
            conn.poll_queue.append(text)
        self._finalize(conn, "slow_consumer", notify=True)

    def stats(self) -> dict[str, int]:
        """Counts for logs and the benchmark."""
        return {
            "sessions": len(self.sessions),
            "rooms": len(self.rooms),
            "tcp": len(self.tcp),
        }


__all__ = ["NAMESPACE", "PATH", "Connection", "Gateway", "InProcessBus"]
