"""One client's Engine.IO session and `/realtime` socket, and how it connects and ends.

The handshake authenticates through the app's `authenticate` hook and reports the connection to
the app's listener (presence); the gateway itself only counts connections and sends them on.
"""

from __future__ import annotations

import asyncio
import heapq
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import structlog

from townsquare.core.errors import AppError, BadRequest, Forbidden, RateLimited
from townsquare.core.events import user_room
from townsquare.core.security import TokenError, decode_access_token
from townsquare.infra.bus import BusMessage, parse_offset
from townsquare.realtime import protocol as p

if TYPE_CHECKING:
    import itertools

    from townsquare.context import AppContext
    from townsquare.realtime.gateway import Gateway
    from townsquare.realtime.hooks import Authenticate, Caller, ConnectionListener
    from townsquare.realtime.metrics import GatewayMetrics
    from townsquare.realtime.transport import HttpConn

log = structlog.get_logger("townsquare.realtime.gateway")

NAMESPACE = "/realtime"


def new_sid() -> str:
    return secrets.token_urlsafe(15)


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
        self.principal: Caller | None = None
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


class ConnectionLifecycle:
    """The gateway's part that connects, disconnects and expires `/realtime` sockets."""

    ctx: AppContext
    authenticate: Authenticate
    conn_listener: ConnectionListener
    metrics: GatewayMetrics
    node_id: str
    max_conns_per_user: int
    presence_sweep_seconds: float
    presence_ttl_seconds: float
    expiry_check_seconds: float
    sessions: dict[str, Connection]
    rooms: dict[str, set[Connection]]
    _expiries: list[tuple[float, int, Connection]]
    _seq: itertools.count[int]

    if TYPE_CHECKING:  # the other parts of the gateway

        def _spawn(self, coro: Any) -> None: ...
        def _flush_one(self, conn: Connection) -> None: ...
        async def _add_member(self, conn: Connection, room: str) -> None: ...
        async def _remove_member(self, conn: Connection, room: str) -> None: ...
        async def _recover(self, conn: Connection, room: str, last_offset: str) -> None: ...
        def _release(self, conn: Connection) -> None: ...
        def _emit_error(self, conn: Connection, code: str, message: str, **extra: Any) -> None: ...

    async def _connect(self, conn: Connection, auth: dict[str, Any]) -> None:
        """Authenticate the handshake, join the user's room, then replay what the client missed."""
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
            principal = await self.authenticate(self.ctx, token)
            live = await self.conn_listener.count(principal.user_id)
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
        conn.sio_sid = new_sid()
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
        await self.conn_listener.connected(principal.user_id, key)
        conn.conn_key = key  # from here on, cleanup reports the disconnect
        if conn.closed:
            await self.conn_listener.disconnected(principal.user_id, key)
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
            await self.conn_listener.disconnected(conn.principal.user_id, conn.conn_key)

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
        """Tell the listener which users are here (idle checks) and, now and then, heartbeat."""
        interval = self.presence_sweep_seconds
        heartbeat_every = max(1, int(self.presence_ttl_seconds / 3 / interval))
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
                    await self.conn_listener.heartbeat(conns)
                await self.conn_listener.sweep(users)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gateway_presence_sweep_failed")
