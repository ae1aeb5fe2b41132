"""Idle-connection memory: N authenticated Socket.IO connections (one user each) on one gateway.

Starts our gateway (embedded mode, N users created up front) in its own process, measures its
resident memory, opens N WebSocket connections that each complete the `/realtime` handshake with
their own access token, measures again, and reports resident memory per connection.

    .venv/bin/python bench/connections.py [--connections 10000]

Prints one JSON line. Target: <= 16 KiB per connection.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TARGET_KIB = 16.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _frame(text: str) -> bytes:
    """A client text frame, masked with a zero key (valid, and cheap to build)."""
    data = text.encode()
    n = len(data)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\x00\x00\x00\x00" + data


async def _read_frame(reader: asyncio.StreamReader) -> str:
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return (await reader.readexactly(n)).decode()


class Idle:
    """One idle client: handshakes, then only answers pings."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer = writer
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.decode(errors="replace"))
        assert (await _read_frame(reader)).startswith("0{")
        writer.write(_frame("40/realtime," + json.dumps({"token": self.token})))
        reply = await _read_frame(reader)
        while not reply.startswith("40/realtime,"):
            if reply.startswith("44"):
                raise RuntimeError(reply)
            reply = await _read_frame(reader)
        self.task = asyncio.create_task(self._pong(reader, writer))

    async def _pong(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            if await _read_frame(reader) == "2":
                writer.write(_frame("3"))


async def hold(port: int, tokens: list[str], server_pid: int) -> dict[str, Any]:
    gc.collect()
    before = rss_kib(server_pid)
    clients = [Idle(port, t) for t in tokens]
    first = max(1, len(clients) // 10)
    started = time.perf_counter()
    mid = 0
    for i in range(0, len(clients), 200):
        await asyncio.gather(*(c.open() for c in clients[i : i + 200]))
        if i + 200 >= first and not mid:
            await asyncio.sleep(1)
            mid, first = rss_kib(server_pid), min(i + 200, len(clients))
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(2)  # let the server settle (presence writes, first sweeps)
    after = rss_kib(server_pid)
    for c in clients:
        if c.task is not None:
            c.task.cancel()
        if c.writer is not None:
            c.writer.close()
    n = len(clients)
    per_conn = (after - before) / n
    marginal = (after - mid) / (n - first) if n > first else per_conn
    return {
        "benchmark": "connections",
        "connections": n,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": round(per_conn, 2),
        # the first tenth pays one-time costs (query caches, allocator growth): the slope after
        # it is what each further connection costs
        "marginal_kib_per_connection": round(marginal, 2),
        "target_kib": TARGET_KIB,
        "meets_target": per_conn <= TARGET_KIB,
        "rss_after_first_tenth_kib": mid,
        "connect_seconds": round(connect_seconds, 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    if args.prepare:
        from fanout import prepare

        asyncio.run(prepare(Path(args.data_dir), args.connections))
        return
    if args.serve:
        import uvloop

        from fanout import serve_ours

        uvloop.run(serve_ours(args.serve, data_dir=Path(args.data_dir)))
        return
    from fanout import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        # users and tokens are made by a separate process: only the gateway's memory is measured
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--prepare",
                "--data-dir",
                tmp,
                "--connections",
                str(args.connections),
            ],
            check=True,
        )
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), "--data-dir", tmp],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while line and not line.startswith("READY"):
            line = proc.stdout.readline()
        if not line:
            raise SystemExit("gateway did not start")
        try:
            tokens = json.loads((Path(tmp) / "tokens.json").read_text())
            result = asyncio.run(asyncio.wait_for(hold(port, tokens, proc.pid), 600))
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
