"""One TCP connection of the gateway: HTTP/1.1 long-polling requests, or an upgraded WebSocket.

We run our own asyncio Protocol rather than the `websockets` server class because Engine.IO
needs request bodies (polling POSTs) on the same port, and because broadcasts write one
pre-framed byte string straight to each transport. `websockets` validates and answers the
upgrade handshake and unmasks frames (its C speedup); the frame loop itself is ours because
keeping a `websockets` protocol object per idle connection cost ~3.7 KiB each
(docs/decisions/0101-gateway-transport.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs, urlsplit

from websockets.http11 import Request
from websockets.server import ServerProtocol

from townsquare.realtime.protocol import ws_frame

try:  # the C implementation that ships with websockets' wheels
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - pure-Python fallback
    from websockets.utils import apply_mask

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
        "frag_size",
        "gw",
        "idle_ticks",
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
        self.idle_ticks = 0  # ping-loop ticks without a complete request (slow-loris guard)
        self.origin: str | None = None
        self.ws = False  # upgraded to WebSocket
        self.conn: Connection | None = None
        self.frag: list[bytes] | None = None
        self.frag_binary = False
        self.frag_size = 0

    # asyncio callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Small frames must leave at once: Nagle plus delayed ACKs adds up to 40 ms.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.gw.tcp.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.gw.tcp.discard(self)
        self.gw.on_tcp_lost(self)

    def data_received(self, data: bytes) -> None:
        if self.ws:
            self._ws_data(data)
            return
        self.buf += data
        self._process()

    # HTTP --------------------------------------------------------------------------------------

    def _process(self) -> None:
        while not self.busy and not self.ws and not self.closed:
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
            self.idle_ticks = 0
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
        """Validate and answer the handshake with `websockets`, then parse frames ourselves."""
        assert self.transport is not None
        proto = ServerProtocol()
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
        self.ws = True
        rest = bytes(self.buf)
        self.buf = bytearray()  # drop the handshake's capacity; idle connections stay small
        self.gw.on_ws_open(self, request)
        if rest:
            self._ws_data(rest)

    def _ws_data(self, data: bytes) -> None:
        """Parse client frames (RFC 6455 section 5): masked, possibly fragmented."""
        buf = self.buf
        buf += data
        limit = self.gw.max_ws_message
        while not self.closed:
            n = len(buf)
            if n < 2:
                return
            b0, b1 = buf[0], buf[1]
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            pos = 2
            if b0 & 0x70 or not b1 & 0x80:
                self.close_ws(1002, "bad frame")  # reserved bits or an unmasked client frame
                return
            if length == 126:
                if n < 4:
                    return
                length = int.from_bytes(buf[2:4], "big")
                pos = 4
            elif length == 127:
                if n < 10:
                    return
                length = int.from_bytes(buf[2:10], "big")
                pos = 10
            if length > limit or (self.frag is not None and self.frag_size + length > limit):
                self.close_ws(1009, "message too big")
                return
            end = pos + 4 + length
            if n < end:
                return
            payload = apply_mask(bytes(buf[pos + 4 : end]), bytes(buf[pos : pos + 4]))
            del buf[:end]
            self._ws_frame(opcode, bool(b0 & 0x80), payload)
        if len(buf) == 0 and self.frag is None:
            self.buf = bytearray()

    def _ws_frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        if opcode >= 0x8:
            if not fin or len(payload) > 125:
                self.close_ws(1002, "bad control frame")
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1000
                self.close_ws(code if 1000 <= code < 5000 else 1002, "")
            elif opcode == 0x9:
                self.transport.write(ws_frame(payload, opcode=0xA))  # type: ignore[union-attr]
            elif opcode != 0xA:
                self.close_ws(1002, "unknown opcode")
            return
        if opcode == 0x0:
            if self.frag is None:
                self.close_ws(1002, "unexpected continuation")
                return
            self.frag.append(payload)
            self.frag_size += len(payload)
            if not fin:
                return
            payload = b"".join(self.frag)
            binary = self.frag_binary
            self.frag = None
        elif opcode in (0x1, 0x2):
            if self.frag is not None:
                self.close_ws(1002, "interleaved message")
                return
            binary = opcode == 0x2
            if not fin:
                self.frag, self.frag_size, self.frag_binary = [payload], len(payload), binary
                return
        else:
            self.close_ws(1002, "unknown opcode")
            return
        if binary:
            self.gw.on_ws_binary(self, payload)
            return
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            self.close_ws(1007, "invalid utf-8")
            return
        self.gw.on_ws_text(self, text)

    def close_ws(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and drop the TCP connection once it is written."""
        if not self.ws or self.closed or self.transport is None:
            return
        self.closed = True
        self.transport.write(ws_frame(code.to_bytes(2, "big") + reason.encode()[:120], opcode=0x8))
        self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closed = True
            self.transport.abort()
