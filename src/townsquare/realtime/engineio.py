"""Engine.IO v4 on the gateway's port: handshake, long-polling, the upgrade to WebSocket, pings.

Socket.IO packets (`4...` messages) go on to the dispatch part; plain HTTP requests other than
`/socket.io/` get the gateway's metrics and health.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from prometheus_client import CollectorRegistry, generate_latest

from townsquare.realtime import protocol as p
from townsquare.realtime.connection import Connection, new_sid

if TYPE_CHECKING:
    from townsquare.realtime.gateway import Gateway
    from townsquare.realtime.transport import HttpConn, HttpRequest

PATH = "/socket.io/"
_PING_FRAME = p.ws_text(p.EIO_PING)


class EngineIO:
    """The gateway's Engine.IO part: sessions, transports and heartbeats."""

    metrics_registry: CollectorRegistry
    cors_origins: list[str]
    ping_interval: float
    ping_timeout: float
    max_payload: int
    sessions: dict[str, Connection]
    tcp: set[HttpConn]

    if TYPE_CHECKING:  # the other parts of the gateway

        def close(self, conn: Connection, reason: str, *, notify: bool = True) -> None: ...
        def _strike(self, conn: Connection, code: str, message: str) -> None: ...
        def _on_sio(self, conn: Connection, text: str) -> None: ...

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
        sid = new_sid()
        conn = Connection(cast("Gateway", self), sid)
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

    async def _ping_loop(self) -> None:
        """Ping every session; close those that did not answer the last ping or never connected."""
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
