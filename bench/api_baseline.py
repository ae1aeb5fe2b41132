"""API baseline: requests/s and p50/p99 for login and profile reads, server on one core.

Starts `townsquare serve` pinned to core 0 on a fresh SQLite data dir with a generated
community, drives it from core 1 with a minimal keep-alive HTTP/1.1 client (far cheaper per
request than httpx, so the client is not the limit: its CPU share is reported), and prints one
JSON line. Bounded: every phase runs for a fixed number of seconds against 127.0.0.1 only.

    .venv/bin/python bench/api_baseline.py [--seconds 10] [--users 1000] [--concurrency 32]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test]

With --postgres, a scratch database is created beside the given one and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "townsquare"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], core: int) -> list[str]:
    """`cmd` run on one core (taskset), when there is more than one core to choose from."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *cmd]
    return cmd


class RawClient:
    """One keep-alive HTTP/1.1 connection sending prepared requests and timing replies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def build_request(method: str, path: str, body: dict[str, str] | None, token: str | None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def drive(port: int, raw: bytes, *, seconds: float, concurrency: int) -> dict[str, float]:
    """Closed-loop load: `concurrency` connections each sending back to back for `seconds`."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        client = RawClient(port)
        await client.open()
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                status, _ = await client.request(raw)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors += 1
        finally:
            client.close()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(q[49] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "client_cpu_share": round(cpu / wall, 2),
    }


async def measure(port: int, args: argparse.Namespace) -> dict[str, object]:
    login_body = {"username": "ana_lima", "password": "ana-lima-town-0007"}
    client = RawClient(port)
    await client.open()
    status, body = await client.request(
        build_request("POST", "/api/v1/auth/login", login_body, None)
    )
    client.close()
    if status != 200:
        raise SystemExit(f"login failed: {status} {body[:200]!r}")
    token = json.loads(body)["access_token"]
    profile = build_request("GET", "/api/v1/users/ben_carter", None, token)
    own = build_request("GET", "/api/v1/users/me", None, token)
    await drive(port, profile, seconds=1, concurrency=args.concurrency)  # warm-up
    return {
        "profile_read_one_client": await drive(port, profile, seconds=args.seconds, concurrency=1),
        "profile_read": await drive(
            port, profile, seconds=args.seconds, concurrency=args.concurrency
        ),
        "own_profile_read": await drive(
            port, own, seconds=args.seconds, concurrency=args.concurrency
        ),
        "login": await drive(
            port,
            build_request("POST", "/api/v1/auth/login", login_body, None),
            seconds=args.seconds,
            concurrency=4,
        ),
    }


async def scratch_postgres_async(admin_url: str, name: str, *, drop: bool) -> str:
    """Create (or drop) a scratch database next to `admin_url`; return its URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, database=url.database
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


def scratch_postgres(admin_url: str, name: str, *, drop: bool) -> str:
    """`scratch_postgres_async` for callers outside an event loop."""
    return asyncio.run(scratch_postgres_async(admin_url, name, drop=drop))


def start_serve(env: dict[str, str], *, within: float) -> tuple[subprocess.Popen[bytes], int]:
    """`townsquare serve` on free ports, pinned to core 0; returns once its API port accepts."""
    port = free_port()
    cmd = [str(BIN), "serve", "--port", str(port), "--gateway-port", str(free_port())]
    server = subprocess.Popen(pinned(cmd, 0), env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + within
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server, port
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.terminate()
                raise SystemExit("server did not start") from None
            time.sleep(0.2)


def machine_description() -> str:
    """CPU count, architecture and Python version, printed with the figures."""
    return f"{platform.machine()} x{os.cpu_count()}, Python {platform.python_version()}"


def cpu_model() -> str:
    """The CPU's model name, printed with the figures."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_info() -> dict[str, object]:
    """The machine block of a benchmark's JSON; the load shows others' work on a shared box."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--postgres", help="PostgreSQL URL to run against instead of SQLite")
    args = parser.parse_args()
    scratch = f"townsquare_bench_{os.getpid()}"
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory(prefix="ts-bench-") as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNSQUARE_")}
        env.update(TOWNSQUARE_DATA_DIR=data, TOWNSQUARE_LOG_LEVEL="WARNING")
        if args.postgres:
            env["TOWNSQUARE_DATABASE_URL"] = scratch_postgres(args.postgres, scratch, drop=False)
        quiet = {"env": env, "check": True, "capture_output": True}
        subprocess.run([str(BIN), "migrate"], **quiet)  # type: ignore[call-overload]
        subprocess.run([str(BIN), "demo", "--users", str(args.users)], **quiet)  # type: ignore[call-overload]
        server, port = start_serve(env, within=30)
        try:
            results = asyncio.run(measure(port, args))
        finally:
            server.terminate()
            server.wait(timeout=20)
            if args.postgres:
                scratch_postgres(args.postgres, scratch, drop=True)
    print(
        json.dumps(
            {
                "benchmark": "api_baseline",
                "database": "postgresql" if args.postgres else "sqlite",
                "users": args.users,
                "server_cores": 1,
                "machine": machine_description(),
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
