"""Fuzz the WebSocket frame loop: arbitrary bytes after an upgrade never raise."""

from __future__ import annotations

import random
from typing import Any

from townsquare.realtime.transport import HttpConn


class _Gateway:
    max_ws_message = 4096

    def __init__(self) -> None:
        self.tcp: set[Any] = set()
        self.texts: list[str] = []
        self.binaries: list[bytes] = []

    def on_ws_text(self, http: Any, text: str) -> None:
        self.texts.append(text)

    def on_ws_binary(self, http: Any, data: bytes) -> None:
        self.binaries.append(data)

    def on_tcp_lost(self, http: Any) -> None:
        return None


class _Transport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> None:
        return None


def _conn() -> tuple[HttpConn, _Gateway, _Transport]:
    gw = _Gateway()
    conn = HttpConn(gw)  # type: ignore[arg-type]
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.ws = True
    return conn, gw, transport


def _masked(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    mask = b"\x01\x02\x03\x04"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return head + mask + body


def test_frames_split_at_every_byte_boundary_reassemble() -> None:
    stream = _masked(0x1, b"hel", fin=False) + _masked(0x0, b"lo") + _masked(0x9, b"p")
    stream += _masked(0x2, b"\x00\x01") + _masked(0x1, "é".encode() * 100)
    for cut in range(1, len(stream)):
        conn, gw, transport = _conn()
        conn.data_received(stream[:cut])
        conn.data_received(stream[cut:])
        assert gw.texts == ["hello", "é" * 100]
        assert gw.binaries == [b"\x00\x01"]
        assert transport.written == b"\x8a\x01p"  # the pong


def test_fuzz_frame_loop() -> None:
    rng = random.Random(11)
    valid = [_masked(0x1, b"2probe"), _masked(0x1, b"x" * 200), _masked(0x8, b"\x03\xe8")]
    for _ in range(5000):
        conn, _, _ = _conn()
        chunks = [rng.randbytes(rng.randrange(0, 40)) for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.5:
            chunks.insert(rng.randrange(len(chunks) + 1), rng.choice(valid))
        for chunk in chunks:
            conn.data_received(chunk)
        assert len(conn.buf) <= 4096 + 14 or conn.closed
