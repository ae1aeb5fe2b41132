"""The real-time gateway: Engine.IO v4 sessions, the `/realtime` Socket.IO namespace, rooms and
fan-out, recovery by per-user offsets, limits, and presence.

Hot path: a bus message for a room is framed once (`42/realtime,[...]` inside one WebSocket
frame) and the same bytes are written to every local member's transport, with no task or queue
per recipient. A member whose kernel send buffer backs up past `max_buffer` is dropped as a
slow consumer; it reconnects and recovers what it missed from its offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import itertools
import re
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel, Field, ValidationError

from townsquare.core.errors import AppError, BadRequest, Forbidden, RateLimited
from townsquare.core.events import user_room
from townsquare.core.security import TokenError, decode_access_token
from townsquare.infra.bus import BusMessage, InProcessBus, parse_offset
from townsquare.infra.ratelimit import RateLimiter, Rule
from townsquare.realtime import protocol as p
from townsquare.realtime.idempotency import IdempotencyStore, MemoryIdempotency, RedisIdempotency
from townsquare.realtime.metrics import GatewayMetrics
from townsquare.realtime.presence_service import PresenceService, presence_service
from townsquare.realtime.registry import HandlerContext, HandlerRegistry, load_domain_handlers
from townsquare.realtime.rooms import ROOM_LEFT_EVENT, is_evictable
from townsquare.realtime.transport import HttpConn, HttpRequest

if TYPE_CHECKING:
    from townsquare.context import AppContext
    from townsquare.domains.accounts.policy import Principal

# Fewer, later collections (with freeze_gc): under the defaults (700, 10, 10) the chat benchmark
# saw a full collection every second or two, each scanning every live object (up to 95 ms with
# 1,000 connections) — that was its p99. Most garbage cycles still die young. Decision 0102.
GC_THRESHOLDS = (10_000, 20, 100)

log = structlog.get_logger(__name__)

NAMESPACE = "/realtime"
PATH = "/socket.io/"
STATUS_EVENT = "account:status_changed"
SESSION_REVOKED_EVENT = "account:session_revoked"
# events the gateway acts on before passing them to the user's connections
_CONTROL_EVENTS = frozenset({STATUS_EVENT, SESSION_REVOKED_EVENT, ROOM_LEFT_EVENT})
# how often a join re-asks the room's policy when evictions keep landing while it asks
_JOIN_ATTEMPTS = 3
MAX_STRIKES = 10
MAX_CLIENT_ID = 128
_ACK_PREFIX = re.compile(r"^2(?:/[^,]{0,200},)?(\d{1,16})\[")
_PING_FRAME = p.ws_text(p.EIO_PING)
_NOOP_FRAME = p.ws_text(p.EIO_NOOP)


def _new_sid() -> str:
    return secrets.token_urlsafe(15)


class PresenceActivity(BaseModel):
    """`presence:activity` payload: what the user is doing now (both fields optional)."""

    activity: str | None = Field(default=None, max_length=140)
    metadata: dict[str, Any] | None = None
    client_id: str | None = Field(default=None, max_length=MAX_CLIENT_ID)


class Connection:
    """One Engine.IO session and its `/realtime` socket; slotted because there are many."""

    __slots__ = (
        "buffer",
        "closed",
        "conn_key",
        "evictions",
        "expires",
        "gw",
        "inbox",
        "last_key",
        "pending",
        "poll_flush",
        "poll_queue",
        "poll_size",
        "poll_waiter",
        "pong_due",
        "principal",
        "probe",
        "rooms",
        "sid",
        "sio_sid",
        "skip_binary",
        "state",
        "strikes",
        "ticks",
        "worker",
        "ws",
    )

    def __init__(self, gw: Gateway, sid: str) -> None:
        self.gw = gw
        self.sid = sid
        self.ws: HttpConn | None = None
        self.pending: list[bytes] | None = None
        self.probe: HttpConn | None = None
        self.poll_queue: list[str] = []
        self.poll_size = 0
        self.poll_waiter: HttpConn | None = None
        self.poll_flush = False
        self.pong_due = False
        self.state = "open"  # open -> connecting -> connected -> closed
        self.principal: Principal | None = None
        self.sio_sid = ""
        self.conn_key = ""
        self.rooms: set[str] = set()
        self.evictions = 0  # bumped by every `room:left` for this user, so a join can re-check
        self.last_key: tuple[int, int] = (0, 0)
        self.buffer: list[BusMessage] | None = None
        self.strikes = 0
        self.ticks = 0
        self.skip_binary = 0
        self.inbox: deque[tuple[str, list[Any], int | None]] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.expires = 0.0
        self.closed = False

    # writing -------------------------------------------------------------------------------

    def push(self, frame: bytes, text: str) -> None:
        """Queue a pre-encoded packet (the same bytes for every recipient of a broadcast).

        WebSocket frames are written when the loop finishes its current work: one write per
        connection per loop pass, so under load several broadcasts share one syscall.
        """
        if self.closed:
            return
        if self.ws is not None:
            pending = self.pending
            if pending is None:
                self.pending = [frame]
                self.gw.mark_dirty(self)
            else:
                pending.append(frame)
            return
        self.poll_queue.append(text)
        self.poll_size += len(text)
        if self.poll_size > self.gw.max_buffer:
            self.gw.drop_slow(self)
            return
        if self.poll_waiter is not None and not self.poll_flush:
            self.poll_flush = True
            asyncio.get_running_loop().call_soon(self.flush_poll)

    def send(self, text: str) -> None:
        """Send one packet to this connection only."""
        self.push(p.ws_text(text), text)

    def flush_poll(self) -> None:
        self.poll_flush = False
        waiter = self.poll_waiter
        if waiter is None or not self.poll_queue:
            return
        self.poll_waiter = None
        body = p.RECORD_SEPARATOR.join(self.poll_queue).encode()
        self.poll_queue = []
        self.poll_size = 0
        waiter.respond(200, body)

    def deliver(self, msg: BusMessage, frame: bytes, text: str) -> None:
        """Deliver a durable event once: buffered while recovering, skipped if already seen."""
        if self.buffer is not None:
            self.buffer.append(msg)
            return
        key = parse_offset(msg.offset or "")
        if key is None or key <= self.last_key:
            return
        self.last_key = key
        self.push(frame, text)


class Gateway:
    """The Socket.IO-compatible gateway of one process: start it on its own port."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        registry: HandlerRegistry | None = None,
        metrics_registry: CollectorRegistry | None = None,
        node_id: str | None = None,
        freeze_gc: bool = True,
    ) -> None:
        s = ctx.settings
        self.freeze_gc = freeze_gc
        self.expiry_check_seconds = 1.0
        self.ctx = ctx
        self.registry = registry if registry is not None else load_domain_handlers()
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
        self.presence: PresenceService = presence_service(ctx)
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
        self._register_builtins()

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

    # HTTP and Engine.IO ------------------------------------------------------------------------

    def cors_headers(self, origin: str | None) -> tuple[str, ...]:
        if origin is None:
            return ()
        if "*" in self.cors_origins or origin in self.cors_origins:
            return (
                f"Access-Control-Allow-Origin: {origin}",
                "Access-Control-Allow-Credentials: true",
                "Vary: Origin",
            )
        return ()

    def _engine_error(self, http: HttpConn, code: int, message: str) -> None:
        body = p.dumps({"code": code, "message": message}).encode()
        http.respond(400, body, content_type="application/json")

    def on_http(self, http: HttpConn, req: HttpRequest) -> None:
        """Route one plain HTTP request: Engine.IO polling, metrics or health."""
        if req.path == "/metrics" and req.method == "GET":
            http.respond(200, generate_latest(self.metrics_registry), content_type="text/plain")
            return
        if req.path in ("/healthz", "/readyz") and req.method == "GET":
            http.respond(200, b'{"status":"ok"}', content_type="application/json")
            return
        if req.path != PATH and req.path != PATH.rstrip("/"):
            http.respond(404, b"not found")
            return
        if req.method == "OPTIONS":
            http.respond(
                204,
                b"",
                extra=(
                    "Access-Control-Allow-Methods: GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers: content-type",
                ),
            )
            return
        q = req.query
        if q.get("EIO") != "4":
            self._engine_error(http, 5, "Unsupported protocol version")
            return
        if q.get("transport") != "polling":
            self._engine_error(http, 0, "Transport unknown")
            return
        sid = q.get("sid")
        if sid is None:
            if req.method != "GET":
                self._engine_error(http, 2, "Bad handshake method")
                return
            conn = self._open_session()
            http.respond(200, self._open_packet(conn.sid, ["websocket"]).encode())
            return
        conn_or_none = self.sessions.get(sid)
        if conn_or_none is None or conn_or_none.ws is not None:
            self._engine_error(http, 1, "Session ID unknown")
            return
        conn = conn_or_none
        if req.method == "GET":
            if conn.poll_waiter is not None:
                self._engine_error(http, 3, "Bad request")
                self.close(conn, "multiple polls")
                return
            if conn.poll_queue:
                conn.poll_waiter = http
                conn.flush_poll()
            elif conn.probe is not None:
                http.respond(200, p.EIO_NOOP.encode())
            else:
                conn.poll_waiter = http
                http.conn = conn  # so a dropped TCP connection clears the waiter
            return
        if req.method == "POST":
            try:
                packets = p.decode_polling_payload(req.body.decode())
            except (UnicodeDecodeError, p.ProtocolError):
                self._strike(conn, "malformed_packet", "The polling payload is not valid")
                http.respond(200, b"ok")
                return
            http.respond(200, b"ok")
            for packet in packets:
                if conn.closed:
                    break
                if packet.startswith("b"):
                    self._binary_in(conn)
                else:
                    self.on_engine_packet(conn, packet)
            return
        http.respond(405, b"method not allowed")

    def _open_session(self) -> Connection:
        sid = _new_sid()
        conn = Connection(self, sid)
        self.sessions[sid] = conn
        return conn

    def _open_packet(self, sid: str, upgrades: list[str]) -> str:
        return p.encode_open(
            sid,
            upgrades=upgrades,
            ping_interval_ms=int(self.ping_interval * 1000),
            ping_timeout_ms=int(self.ping_timeout * 1000),
            max_payload=self.max_payload,
        )

    def check_ws_request(self, req: HttpRequest) -> str | None:
        """Vet a WebSocket upgrade before accepting it; return why it is refused, if it is."""
        if req.path != PATH and req.path != PATH.rstrip("/"):
            return "unknown path"
        if req.query.get("EIO") != "4":
            return "unsupported protocol version"
        if req.query.get("transport") != "websocket":
            return "transport unknown"
        sid = req.query.get("sid")
        if sid is not None:
            conn = self.sessions.get(sid)
            if conn is None or conn.ws is not None or conn.probe is not None or conn.closed:
                return "session ID unknown"
        return None

    def on_ws_open(self, http: HttpConn, req: HttpRequest) -> None:
        sid = req.query.get("sid")
        if sid is None:
            conn = self._open_session()
            conn.ws = http
            http.conn = conn
            conn.send(self._open_packet(conn.sid, []))
        else:
            conn = self.sessions[sid]
            conn.probe = http
            http.conn = conn

    def on_ws_text(self, http: HttpConn, text: str) -> None:
        conn = http.conn
        if conn is None or conn.closed:
            return
        if conn.probe is http:
            if text == "2probe":
                http.transport.write(p.ws_text("3probe"))  # type: ignore[union-attr]
                if conn.poll_waiter is not None:
                    waiter, conn.poll_waiter = conn.poll_waiter, None
                    waiter.respond(200, p.EIO_NOOP.encode())
            elif text == p.EIO_UPGRADE:
                self._finish_upgrade(conn, http)
            return
        if conn.ws is http:
            self.on_engine_packet(conn, text)

    def _finish_upgrade(self, conn: Connection, http: HttpConn) -> None:
        conn.probe = None
        pending, conn.poll_queue, conn.poll_size = conn.poll_queue, [], 0
        if conn.poll_waiter is not None:
            waiter, conn.poll_waiter = conn.poll_waiter, None
            waiter.respond(200, p.EIO_NOOP.encode())
        conn.ws = http
        for text in pending:
            conn.send(text)

    def on_ws_binary(self, http: HttpConn, data: bytes) -> None:
        conn = http.conn
        if conn is not None and conn.ws is http and not conn.closed:
            self._binary_in(conn)

    def on_tcp_lost(self, http: HttpConn) -> None:
        conn = http.conn
        if conn is None:
            return
        if conn.poll_waiter is http:
            conn.poll_waiter = None
        elif conn.ws is http:
            self.close(conn, "transport close", notify=False)
        elif conn.probe is http:
            conn.probe = None

    def on_engine_packet(self, conn: Connection, packet: str) -> None:
        """Dispatch one Engine.IO packet from the client."""
        kind = packet[:1]
        if kind == p.EIO_MESSAGE:
            self._on_sio(conn, packet[1:])
        elif kind == p.EIO_PONG:
            conn.pong_due = False
        elif kind == p.EIO_CLOSE:
            self.close(conn, "client close", notify=False)
        elif kind == p.EIO_NOOP or kind == p.EIO_PING:
            return
        else:
            self._strike(conn, "malformed_packet", "Unknown Engine.IO packet")

    def _binary_in(self, conn: Connection) -> None:
        if conn.skip_binary > 0:
            conn.skip_binary -= 1
            return
        self._strike(conn, "binary_not_supported", "Binary data is not accepted here")

    # Socket.IO ---------------------------------------------------------------------------------

    def _on_sio(self, conn: Connection, text: str) -> None:
        if len(text) > self.max_payload:
            match = _ACK_PREFIX.match(text[:240])
            error = {
                "code": "payload_too_large",
                "message": "The event exceeds the size limit",
                "limit": self.max_payload,
            }
            if match and conn.state == "connected":
                conn.send(
                    p.encode_ack(NAMESPACE, int(match.group(1)), [{"ok": False, "error": error}])
                )
                self._count_strike(conn)
            else:
                self._strike(conn, "payload_too_large", "The event exceeds the size limit")
            return
        try:
            packet = p.decode_sio(text)
        except p.ProtocolError as exc:
            self._strike(conn, "malformed_packet", str(exc))
            return
        if packet.type == p.CONNECT:
            if packet.nsp != NAMESPACE:
                conn.send(p.encode_connect_error(packet.nsp, "Invalid namespace"))
                return
            if conn.state != "open":
                self._strike(conn, "malformed_packet", "Already connected")
                return
            conn.state = "connecting"
            self._spawn(self._connect(conn, packet.data or {}))
            return
        if packet.nsp != NAMESPACE or conn.state != "connected":
            self._strike(conn, "malformed_packet", "Not connected to this namespace")
            return
        if packet.type == p.EVENT:
            self._enqueue(conn, packet.data[0], packet.data[1:], packet.id)
        elif packet.type == p.DISCONNECT:
            self.close(conn, "client namespace disconnect", notify=False)
        elif packet.type in (p.BINARY_EVENT, p.BINARY_ACK):
            conn.skip_binary += packet.attachments
            refusal = {"code": "binary_not_supported", "message": "Binary attachments are refused"}
            if packet.id is not None and packet.type == p.BINARY_EVENT:
                conn.send(p.encode_ack(NAMESPACE, packet.id, [{"ok": False, "error": refusal}]))
                self._count_strike(conn)
            else:
                self._strike(conn, refusal["code"], refusal["message"])
        # ACKs from clients answer nothing we asked; ignore them.

    def _strike(self, conn: Connection, code: str, message: str) -> None:
        """Tell the client what was wrong; a client that keeps at it is disconnected."""
        if conn.state == "connected":
            self._emit_error(conn, code, message)
        self._count_strike(conn)

    def _count_strike(self, conn: Connection) -> None:
        conn.strikes += 1
        if conn.strikes >= MAX_STRIKES or conn.state == "open":
            self.disconnect(conn, "protocol_violation", "Too much malformed input")

    def _emit_error(self, conn: Connection, code: str, message: str, **extra: Any) -> None:
        body = {"code": code, "message": message, **extra}
        conn.send(p.encode_event(NAMESPACE, p.dumps(["error", body])))

    async def _connect(self, conn: Connection, auth: dict[str, Any]) -> None:
        """Authenticate the handshake, join the user's room, then replay what the client missed."""
        from townsquare.domains.accounts.queries import authenticate

        token = auth.get("token")
        last_offset = auth.get("last_offset")
        if isinstance(last_offset, int) and not isinstance(last_offset, bool):
            last_offset = str(last_offset)
        try:
            if not isinstance(token, str) or not token:
                raise BadRequest("The handshake needs auth.token", code="token_missing")
            if last_offset is not None and not isinstance(last_offset, str):
                raise BadRequest("auth.last_offset must be a string", code="validation_failed")
            try:
                claims = decode_access_token(token, secret=self.ctx.jwt_secret)
            except TokenError as exc:
                raise Forbidden(exc.reason, code=exc.reason) from exc
            async with self.ctx.db.read() as session:
                principal = await authenticate(session, token=token, secret=self.ctx.jwt_secret)
            live = await self.presence.store.count(principal.user_id, now=_now_ms())
            if live >= self.max_conns_per_user:
                raise RateLimited(
                    "Too many connections for this user",
                    code="too_many_connections",
                    retry_after=5,
                )
        except AppError as exc:
            self._refuse(conn, exc.code, exc.detail)
            return
        except Exception:  # the database or Redis is down: say so rather than hang the client
            log.exception("gateway_connect_failed")
            self._refuse(conn, "unavailable", "The service is temporarily unavailable")
            return
        if conn.closed:
            return
        conn.principal = principal
        conn.sio_sid = _new_sid()
        conn.buffer = []
        conn.state = "connected"
        room = user_room(principal.user_id)
        try:
            await self._add_member(conn, room)
        except Exception:
            log.exception("gateway_subscribe_failed")
            self.close(conn, "subscribe failed")
            return
        if conn.closed:
            return
        delay = claims.expires_at.timestamp() - time.time()
        conn.expires = time.time() + max(0.0, delay)
        heapq.heappush(self._expiries, (conn.expires, next(self._seq), conn))
        self.metrics.connects.inc()
        self.metrics.connections.inc()
        conn.send(p.encode_connect(NAMESPACE, {"sid": conn.sio_sid}))
        key = f"{self.node_id}:{conn.sid}"
        await self.presence.connected(principal.user_id, key)
        conn.conn_key = key  # from here on, cleanup unregisters presence
        if conn.closed:
            await self.presence.disconnected(principal.user_id, key)
            return
        if last_offset is not None:
            await self._recover(conn, room, last_offset)
        else:
            self._release(conn)

    def _refuse(self, conn: Connection, code: str, message: str) -> None:
        if not conn.closed:
            self.metrics.connect_errors.labels(code).inc()
            conn.send(p.encode_connect_error(NAMESPACE, code, {"code": code, "message": message}))
            conn.state = "open"

    async def _recover(self, conn: Connection, room: str, last_offset: str) -> None:
        try:
            missed = await self.ctx.bus.history(room, last_offset)
        except Exception:
            log.exception("gateway_history_failed")
            missed = None
        if conn.closed:
            return
        key = parse_offset(last_offset)
        if key is not None and key[0] > _now_ms() + 60_000:
            key = None  # an offset from the future would silence every live event after it
        if missed is None or key is None:
            self.metrics.recovery.labels("miss").inc()
            conn.send(
                p.encode_event(
                    NAMESPACE, p.dumps(["recovery:failed", {"last_offset": last_offset}])
                )
            )
        else:
            self.metrics.recovery.labels("hit").inc()
            conn.last_key = key
            for msg in missed:
                offset = parse_offset(msg.offset or "")
                if offset is not None and offset > conn.last_key:
                    conn.last_key = offset
                    conn.send(p.encode_event(NAMESPACE, msg.args))
        self._release(conn)

    async def _resync(self, room: str) -> None:
        """A room's bus subscription was restored: replay what its members may have missed."""
        if not room.startswith("user:"):
            return  # live-only rooms have nothing to replay
        for conn in list(self.rooms.get(room, ())):
            if conn.state != "connected" or conn.buffer is not None:
                continue
            if conn.last_key == (0, 0):
                # nothing durable seen yet, so no offset to resume from: let the client refetch
                conn.send(
                    p.encode_event(NAMESPACE, p.dumps(["recovery:failed", {"last_offset": None}]))
                )
                continue
            after = f"{conn.last_key[0]}-{conn.last_key[1]}"
            missed = await self.ctx.bus.history(room, after)
            if conn.closed:
                continue
            if missed is None:
                self.metrics.recovery.labels("miss").inc()
                conn.send(
                    p.encode_event(NAMESPACE, p.dumps(["recovery:failed", {"last_offset": after}]))
                )
                continue
            self.metrics.recovery.labels("hit").inc()
            for msg in missed:
                if msg.event == ROOM_LEFT_EVENT:
                    # an eviction this node missed while unsubscribed still has to happen
                    key = parse_offset(msg.offset or "")
                    evicted = _evicted_room(msg)
                    if key is not None and key > conn.last_key and evicted is not None:
                        self._evict(conn, evicted)
                text = p.encode_event(NAMESPACE, msg.args)
                conn.deliver(msg, p.ws_text(text), text)

    def _release(self, conn: Connection) -> None:
        """Flush live events that arrived while the handshake or recovery was in progress."""
        buffered, conn.buffer = conn.buffer or [], None
        for msg in buffered:
            text = p.encode_event(NAMESPACE, msg.args)
            conn.deliver(msg, p.ws_text(text), text)

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
        room = _evicted_room(msg)
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

    # disconnection -----------------------------------------------------------------------------

    def disconnect(self, conn: Connection, code: str, message: str) -> None:
        """End a connection for a reason the client must act on (it will not auto-reconnect)."""
        if conn.closed:
            return
        if conn.state == "connected":
            self._emit_error(conn, code, message)
            conn.send(p.encode_disconnect(NAMESPACE))
        self.close(conn, code)

    def close(self, conn: Connection, reason: str, *, notify: bool = True) -> None:
        """Close the Engine.IO session and forget it; `notify` sends the close packet first."""
        if conn.closed:
            return
        conn.closed = True
        self._finalize(conn, reason, notify=notify)

    def _finalize(self, conn: Connection, reason: str, *, notify: bool) -> None:
        if conn.state == "closed":
            return
        was_connected = conn.state == "connected"
        conn.state = "closed"
        self.sessions.pop(conn.sid, None)
        if conn.ws is not None:
            self._flush_one(conn)
        conn.pending = None
        if notify:
            if conn.ws is not None:
                conn.ws.transport.write(p.ws_text(p.EIO_CLOSE))  # type: ignore[union-attr]
            else:
                conn.poll_queue.append(p.EIO_CLOSE)
        if conn.ws is not None:
            conn.ws.close_ws(1000, "")
        if conn.probe is not None:
            conn.probe.close_ws(1000, "")
        if conn.poll_waiter is not None:
            waiter, conn.poll_waiter = conn.poll_waiter, None
            body = p.RECORD_SEPARATOR.join(conn.poll_queue or [p.EIO_NOOP]).encode()
            waiter.respond(200, body)
        if conn.worker is not None and not conn.worker.done():
            conn.worker.cancel()
        if was_connected:
            self.metrics.disconnects.labels(reason).inc()
            self.metrics.connections.dec()
            self._spawn(self._cleanup(conn))

    async def _cleanup(self, conn: Connection) -> None:
        for room in list(conn.rooms):
            await self._remove_member(conn, room)
        if conn.principal is not None and conn.conn_key:
            await self.presence.disconnected(conn.principal.user_id, conn.conn_key)

    # client events -----------------------------------------------------------------------------

    def _enqueue(self, conn: Connection, name: str, args: list[Any], ack_id: int | None) -> None:
        """Queue an event; one short-lived worker per busy connection keeps events in order."""
        if conn.inbox is None:
            conn.inbox = deque()
        if len(conn.inbox) >= 256:
            self.drop_slow(conn)
            return
        conn.inbox.append((name, args, ack_id))
        if conn.worker is None or conn.worker.done():
            conn.worker = asyncio.ensure_future(self._work(conn))

    async def _work(self, conn: Connection) -> None:
        inbox = conn.inbox
        while inbox and not conn.closed:
            name, args, ack_id = inbox.popleft()
            try:
                reply = await self._run(conn, name, args)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gateway_event_failed", event=name)
                reply = {
                    "ok": False,
                    "error": {"code": "internal_error", "message": "Something went wrong"},
                }
            if conn.closed:
                return
            if ack_id is not None:
                conn.send(p.encode_ack(NAMESPACE, ack_id, [reply]))
            elif not reply.get("ok"):
                error = reply["error"]
                self._emit_error(conn, error["code"], error.get("message", ""), event=name)
        conn.inbox = None

    async def _run(self, conn: Connection, name: str, args: list[Any]) -> dict[str, Any]:
        """Rate-limit, validate, de-duplicate and run one client event; return the ack reply."""
        principal = conn.principal
        assert principal is not None
        uid = str(principal.user_id)
        self.metrics.events_in.labels(name if name in self.registry.handlers else "unknown").inc()
        if not await self.limiter.hit(self.events_rule, "rt-events", uid):
            self.metrics.rate_limited.labels("all").inc()
            retry = await self.limiter.retry_after(self.events_rule, "rt-events", uid)
            return _fail(RateLimited("Too many events", retry_after=retry))
        spec = self.registry.handlers.get(name)
        if spec is None:
            return _fail(BadRequest(f"Unknown event {name[:60]!r}", code="unknown_event"))
        rule = self.named_rules[spec.rate] if isinstance(spec.rate, str) else spec.rate
        if rule is not None and not await self.limiter.hit(rule, "rt", name, uid):
            self.metrics.rate_limited.labels(name).inc()
            retry = await self.limiter.retry_after(rule, "rt", name, uid)
            return _fail(RateLimited(f"Too many {name} events", retry_after=retry))
        payload = args[0] if args else None
        data: Any = payload
        if spec.model is not None:
            try:
                data = spec.model.model_validate(payload if payload is not None else {})
            except ValidationError as exc:
                errors = [
                    {"loc": [str(x) for x in e["loc"]], "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False, include_context=False)
                ]
                return _fail(BadRequest("Invalid payload", code="validation_failed", errors=errors))
        client_id = payload.get("client_id") if isinstance(payload, dict) else None
        if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 128):
            return _fail(BadRequest("client_id must be a short string", code="validation_failed"))
        ctx = HandlerContext(self, conn, self.ctx, principal)
        if client_id is None or not spec.state_changing:
            return await self._call(spec.fn, ctx, data)
        key = f"{uid}:{name}:{client_id}"
        state, stored = await self.idempotency.begin(key)
        if state == "done":
            return dict(stored)
        if state == "pending":
            return _fail(AppError("Still processing this client_id", code="in_progress"))
        try:
            reply = await self._call(spec.fn, ctx, data)
        except BaseException:
            await self.idempotency.abort(key)
            raise
        await self.idempotency.finish(key, reply)
        return reply

    @staticmethod
    async def _call(fn: Any, ctx: HandlerContext, data: Any) -> dict[str, Any]:
        try:
            result = await fn(ctx, data)
        except AppError as exc:
            return _fail(exc)
        return {"ok": True, "data": result}

    # built-in events and presence --------------------------------------------------------------

    def _register_builtins(self) -> None:
        if "presence:activity" in self.registry.handlers:
            return

        @self.registry.on("presence:activity", model=PresenceActivity, state_changing=False)
        async def presence_activity(ctx: HandlerContext, data: PresenceActivity) -> dict[str, Any]:
            """Mark the user active now and, when given, set what they are doing."""
            service = presence_service(ctx.app)
            info = await service.activity(
                ctx.user_id,
                activity=data.activity,
                metadata=data.metadata,
                set_activity="activity" in data.model_fields_set
                or "metadata" in data.model_fields_set,
            )
            return service.to_wire(info)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            for conn in list(self.sessions.values()):
                if conn.closed:
                    continue
                if conn.pong_due:
                    self.close(conn, "ping timeout", notify=False)
                    continue
                conn.ticks += 1
                if conn.state == "open" and conn.ticks > 1:
                    # an Engine.IO session that never joined the namespace holds resources
                    self.close(conn, "connect timeout")
                    continue
                conn.pong_due = True
                conn.push(_PING_FRAME, p.EIO_PING)
            for http in list(self.tcp):
                # plain HTTP connections that sent no complete request for two intervals
                if not http.ws and not http.busy:
                    http.idle_ticks += 1
                    if http.idle_ticks > 2:
                        http.abort()

    async def _expiry_loop(self) -> None:
        """End connections whose access token expired (clients refresh it and reconnect)."""
        heap = self._expiries
        while True:
            await asyncio.sleep(self.expiry_check_seconds)
            now = time.time()
            while heap and heap[0][0] <= now:
                _, _, conn = heapq.heappop(heap)
                if not conn.closed:
                    self.disconnect(conn, "token_expired", "The access token expired")
            if len(heap) > 2 * len(self.sessions) + 1024:  # forget closed connections
                self._expiries = heap = [e for e in heap if not e[2].closed]
                heapq.heapify(heap)

    async def _presence_loop(self) -> None:
        interval = self.presence.sweep_seconds
        heartbeat_every = max(1, int(self.presence.ttl_seconds / 3 / interval))
        tick = 0
        while True:
            await asyncio.sleep(interval)
            tick += 1
            try:
                users = [int(room[5:]) for room in self.rooms if room.startswith("user:")]
                if tick % heartbeat_every == 0:
                    conns = [
                        (c.principal.user_id, c.conn_key)
                        for c in self.sessions.values()
                        if c.principal is not None and c.state == "connected"
                    ]
                    await self.presence.store.heartbeat(conns, now=_now_ms())
                await self.presence.sweep(users)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gateway_presence_sweep_failed")

    def stats(self) -> dict[str, int]:
        """Counts for logs and the benchmark."""
        return {
            "sessions": len(self.sessions),
            "rooms": len(self.rooms),
            "tcp": len(self.tcp),
        }


def _fail(exc: AppError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.detail}
    if exc.errors:
        error["errors"] = exc.errors
    error.update(exc.extra)
    return {"ok": False, "error": error}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _evicted_room(msg: BusMessage) -> str | None:
    """The room a `room:left` in a user's room names, if it is one connections can leave."""
    if not msg.room.startswith("user:"):
        return None
    try:
        data = msg.data()
    except ValueError:
        return None
    room = data.get("room") if isinstance(data, dict) else None
    return room if isinstance(room, str) and is_evictable(room) else None


__all__ = ["NAMESPACE", "PATH", "Connection", "Gateway", "InProcessBus"]
