"""One TCP connection of the gateway: HTTP/1.1 long-polling requests, or an upgraded WebSocket.

We run our own asyncio Protocol rather than the `websockets` server class because Engine.IO
needs request bodies (polling POSTs) on the same port, and because broadcasts write one
pre-framed byte string straight to each transport. The WebSocket protocol itself (handshake,
incoming frames, control frames, close handshake, size limit) is `websockets`' sans-I/O
`ServerProtocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from websockets.frames import Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

if TYPE_CHECKING:
    from townsquare.realtime.gateway import Connection, Gateway

MAX_HEAD_BYTES = 16 * 1024
REASONS = {
    101: "Switching Protocols",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class HttpRequest:
    """The parts of a request the gateway looks at."""

    __slots__ = ("body", "headers", "method", "path", "query")

    def __init__(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


def _parse_query(raw: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


class HttpConn(asyncio.Protocol):
    """Parses requests one at a time; after a WebSocket upgrade it feeds `websockets`' parser."""

    __slots__ = (
        "buf",
        "busy",
        "closed",
        "conn",
        "frag",
        "frag_binary",
        "gw",
        "keep_alive",
        "origin",
        "transport",
        "ws",
    )

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False
        self.closed = False
        self.keep_alive = True
        self.origin: str | None = None
        self.ws: ServerProtocol | None = None
        self.conn: Connection | None = None
        self.frag: list[bytes] | None = None
        self.frag_binary = False

    # asyncio callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.gw.tcp.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.gw.tcp.discard(self)
        self.gw.on_tcp_lost(self)

    def data_received(self, data: bytes) -> None:
        if self.ws is not None:
            self._ws_data(data)
            return
        self.buf += data
        self._process()

    # HTTP --------------------------------------------------------------------------------------

    def _process(self) -> None:
        while not self.busy and self.ws is None and not self.closed:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD_BYTES:
                    self.respond(431, b"header too large", close=True)
                return
            try:
                head = bytes(self.buf[:end]).decode("latin-1")
                lines = head.split("\r\n")
                method, target, version = lines[0].split(" ")
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if not sep or not name or name != name.strip():
                        raise ValueError("bad header")
                    headers[name.lower()] = value.strip()
                length_text = headers.get("content-length", "0")
                if not length_text.isdigit() or len(length_text) > 12:
                    raise ValueError("bad content-length")
                length = int(length_text)
            except ValueError:
                self.respond(400, b"bad request", close=True)
                return
            if "transfer-encoding" in headers:
                self.respond(411, b"chunked bodies are not supported", close=True)
                return
            if length > self.gw.max_http_body:
                self.respond(413, b"payload too large", close=True)
                return
            total = end + 4 + length
            if len(self.buf) < total:
                return
            raw_head = bytes(self.buf[: end + 4])
            body = bytes(self.buf[end + 4 : total])
            del self.buf[:total]
            url = urlsplit(target)
            request = HttpRequest(method, url.path, _parse_query(url.query), headers, body)
            self.origin = headers.get("origin")
            self.keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != (
                "close"
            )
            if headers.get("upgrade", "").lower() == "websocket":
                self._upgrade(raw_head, request)
                return
            self.busy = True
            self.gw.on_http(self, request)

    def respond(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "text/plain; charset=UTF-8",
        close: bool = False,
        extra: tuple[str, ...] = (),
    ) -> None:
        """Write one response; then parse the next pipelined request, if any."""
        if self.closed or self.transport is None:
            return
        keep = self.keep_alive and not close
        lines = [
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
            f"Content-Length: {len(body)}",
            f"Content-Type: {content_type}",
            "Cache-Control: no-store",
            "Connection: keep-alive" if keep else "Connection: close",
            *self.gw.cors_headers(self.origin),
            *extra,
        ]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.busy = False
        if not keep:
            self.closed = True
            self.transport.close()
            return
        if self.buf:
            self._process()

    # WebSocket ---------------------------------------------------------------------------------

    def _upgrade(self, raw_head: bytes, request: HttpRequest) -> None:
        assert self.transport is not None
        proto = ServerProtocol(max_size=self.gw.max_ws_message)
        proto.receive_data(raw_head)
        events = proto.events_received()
        if not events or not isinstance(events[0], Request):
            self.respond(400, b"bad websocket handshake", close=True)
            return
        error = self.gw.check_ws_request(request)
        response = proto.accept(events[0]) if error is None else proto.reject(400, error + "\n")
        proto.send_response(response)
        self.transport.write(b"".join(proto.data_to_send()))
        if response.status_code != 101:
            self.closed = True
            self.transport.close()
            return
        self.ws = proto
        self.gw.on_ws_open(self, request)
        if self.buf:
            rest = bytes(self.buf)
            self.buf.clear()
            self._ws_data(rest)

    def _ws_data(self, data: bytes) -> None:
        proto = self.ws
        assert proto is not None and self.transport is not None
        proto.receive_data(data)
        for frame in proto.events_received():
            opcode = frame.opcode  # type: ignore[union-attr]
            if opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                payload = bytes(frame.data)  # type: ignore[union-attr]
                if not frame.fin:  # type: ignore[union-attr]
                    if self.frag is None:
                        self.frag = [payload]
                        self.frag_binary = opcode is Opcode.BINARY
                    else:
                        self.frag.append(payload)
                    continue
                if self.frag is not None:
                    self.frag.append(payload)
                    payload = b"".join(self.frag)
                    binary = self.frag_binary
                    self.frag = None
                else:
                    binary = opcode is Opcode.BINARY
                if self.closed:
                    return
                if binary:
                    self.gw.on_ws_binary(self, payload)
                else:
                    try:
                        text = payload.decode()
                    except UnicodeDecodeError:
                        self.close_ws(1007, "invalid utf-8")
                        return
                    self.gw.on_ws_text(self, text)
        self._flush_proto()

    def _flush_proto(self) -> None:
        proto = self.ws
        if proto is None or self.transport is None:
            return
        for chunk in proto.data_to_send():
            if chunk:
                self.transport.write(chunk)
            else:
                self.closed = True
                self.transport.close()
                return
        if proto.close_expected() and not self.closed:
            self.closed = True
            self.transport.close()

    def close_ws(self, code: int = 1000, reason: str = "") -> None:
        """Start the WebSocket close handshake and drop the TCP connection after it."""
        if self.ws is None or self.closed:
            return
        with contextlib.suppress(Exception):  # already closing
            self.ws.send_close(code, reason)
        self._flush_proto()
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closed = True
            self.transport.abort()
