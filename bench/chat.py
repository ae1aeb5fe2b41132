"""Chat benchmark: members in group rooms, each sending a message every few seconds.

Members are connected over raw Engine.IO v4 / Socket.IO v5 WebSocket clients (in a second
process, pinned to the other CPU when `taskset` exists), each joined to its room with
`chat:join`. Every member sends `chat:message` at a steady rate with random phase; a message is
stored (sequence taken, row committed) before it is acknowledged. Each receiver reads the send
time the sender wrote into the text, so the latencies are from the sender's `emit` to each
member's `chat:new_message` (one clock: both ends live in the client process):

  * deliver_p50/p99_ms  send -> every member's chat:new_message,
  * ack_p50/p99_ms      send -> the sender's ack (message persisted),
  * lost                deliveries expected (members x messages acked) but never seen,
  * reordered           deliveries whose per-room sequence was not the previous one + 1.

The server side runs as `townsquare serve` does (the gateway in the API process) on SQLite, or on
PostgreSQL with `--postgres URL` (a scratch database is created there and dropped after).

    .venv/bin/python bench/chat.py [--members 1000] [--room-size 50] [--rate 1000] [--seconds 10]
                                   [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _pinned(cpu: int, argv: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *argv]
    return argv


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


# --- the members: raw Socket.IO clients ----------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.deliveries: list[float] = []
        self.acks: list[float] = []
        self.acked_per_room: dict[str, int] = {}
        self.received = 0
        self.reordered = 0
        self.errors = 0
        self.refused = 0
        self.last_seq: dict[tuple[int, str], int] = {}


async def _member(
    n: int,
    url: str,
    token: str,
    room: str,
    interval: float,
    ready: asyncio.Event,
    go: asyncio.Event,
    stop: asyncio.Event,
    stats: Stats,
) -> None:
    import websockets

    async with websockets.connect(url, max_size=None, compression=None) as ws:
        opened = await ws.recv()
        assert str(opened).startswith("0"), opened
        await ws.send("40/realtime," + json.dumps({"token": token}))
        while True:
            frame = str(await ws.recv())
            if frame.startswith("40/realtime"):
                break
            if frame == "2":
                await ws.send("3")
        await ws.send('42/realtime,1["chat:join",' + json.dumps({"roomId": room}) + "]")
        while True:
            frame = str(await ws.recv())
            if frame.startswith("43/realtime,1"):
                assert '"ok":true' in frame, frame
                break
        ready.set()
        sent_at: dict[int, float] = {}

        async def sender() -> None:
            await go.wait()
            await asyncio.sleep(random.random() * interval)  # steady aggregate rate from the start
            ack = 1
            while not stop.is_set():
                ack += 1
                now = time.monotonic()
                sent_at[ack] = now
                body = {"roomId": room, "message": f"t{now:.6f} m{n}", "client_id": f"{n}-{ack}"}
                await ws.send(f"42/realtime,{ack}" + json.dumps(["chat:message", body]))
                await asyncio.sleep(interval)

        task = asyncio.create_task(sender())
        try:
            while True:
                frame = str(await ws.recv())
                now = time.monotonic()
                if frame.startswith('42/realtime,["chat:new_message"'):
                    stats.received += 1
                    at = frame.index('"text":"t') + 9
                    stats.deliveries.append(now - float(frame[at : frame.index(" ", at)]))
                    s = frame.index('"seq":') + 6
                    seq = int(frame[s : frame.index(",", s)])
                    previous = stats.last_seq.get((n, room))
                    if previous is not None and seq != previous + 1:
                        stats.reordered += 1
                    stats.last_seq[(n, room)] = seq
                elif frame.startswith("43/realtime,"):
                    ident = int(frame[12 : frame.index("[")])
                    started = sent_at.pop(ident, None)
                    if started is not None:
                        if '"ok":true' in frame:
                            stats.acks.append(now - started)
                            stats.acked_per_room[room] = stats.acked_per_room.get(room, 0) + 1
                        else:
                            stats.refused += 1
                elif frame == "2":
                    await ws.send("3")
        finally:
            task.cancel()


async def run_clients(spec_file: Path, seconds: float, drain: float) -> None:
    """Connect every member, print READY, send for `seconds` after GO, then print the stats."""
    spec: dict[str, Any] = json.loads(await asyncio.to_thread(spec_file.read_text))
    stats = Stats()
    members = spec["members"]
    readies = [asyncio.Event() for _ in members]
    go, stop = asyncio.Event(), asyncio.Event()
    tasks = []
    for n, (token, room) in enumerate(members):
        tasks.append(
            asyncio.create_task(
                _member(n, spec["url"], token, room, spec["interval"], readies[n], go, stop, stats)
            )
        )
        if n % 100 == 99:
            await asyncio.sleep(0.05)  # do not flood the accept queue
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 180)
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    go.set()
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.sleep(drain)  # acks and deliveries in flight
    for task in tasks:
        task.cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    stats.errors = sum(1 for r in done if isinstance(r, Exception))
    room_size = spec["room_size"]
    expected = sum(count * room_size for count in stats.acked_per_room.values())
    acked = sum(stats.acked_per_room.values())
    print(
        json.dumps(
            {
                "acked": acked,
                "refused": stats.refused,
                "received": stats.received,
                "lost": max(0, expected - stats.received),
                "reordered": stats.reordered,
                "deliver_p50_ms": _pct(stats.deliveries, 0.50),
                "deliver_p99_ms": _pct(stats.deliveries, 0.99),
                "ack_p50_ms": _pct(stats.acks, 0.50),
                "ack_p99_ms": _pct(stats.acks, 0.99),
                "sent_per_s": round(acked / seconds),
                "client_errors": stats.errors,
            }
        ),
        flush=True,
    )


# --- the server side -----------------------------------------------------------------------------


async def _scratch_postgres(url: str) -> tuple[str, str]:
    import asyncpg

    name = f"ts_bench_chat_{secrets.token_hex(4)}"
    plain = url.replace("+asyncpg", "")
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = url.rsplit("/", 1)[0]
    return f"{base}/{name}", name


async def _drop_postgres(url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def bench(args: argparse.Namespace) -> dict[str, Any]:

    from townsquare.config import Settings
    from townsquare.context import AppContext
    from townsquare.core.ids import new_id
    from townsquare.core.logging import configure_logging
    from townsquare.core.migrations import upgrade
    from townsquare.core.security import create_access_token
    from townsquare.demo import insert_signed_in_members
    from townsquare.domains.chat import actions as chat_actions
    from townsquare.domains.chat.schemas import CreateRoom
    from townsquare.realtime import Gateway

    configure_logging("WARNING", json=True)
    tmp = Path(tempfile.mkdtemp(prefix="ts-bench-chat-"))
    scratch: str | None = None
    if args.postgres:
        db_url, scratch = await _scratch_postgres(args.postgres)
    else:
        db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await asyncio.to_thread(upgrade, db_url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp,
        database_url=db_url,
        jwt_secret=secrets.token_urlsafe(48),
        log_level="WARNING",
        jobs_schedules_enabled=False,
        gateway_events_per_second=1_000_000,
        gateway_chat_messages_per_minute=1_000_000,
        gateway_max_buffer_bytes=8 * 1024 * 1024,
        chat_notify_delay_seconds=3600.0,  # everyone is connected; keep jobs out of the figures
    )
    ctx = AppContext.create(settings)
    await ctx.start()
    users = [(new_id(), new_id()) for _ in range(args.members)]
    async with ctx.db.transaction() as session:
        await insert_signed_in_members(session, users, prefix="c")
    rooms: list[int] = []
    for start in range(0, len(users), args.room_size):  # the chat domain's own action
        group = users[start : start + args.room_size]
        async with ctx.db.transaction() as session:
            room, _ = await chat_actions.check_create_room(
                session,
                creator_id=group[0][0],
                body=CreateRoom(
                    type="group", name=f"room {start}", member_ids=[u for u, _ in group[1:]]
                ),
                media=ctx.media,
            )
        rooms.append(room.id)

    gateway = Gateway(ctx)
    port = await gateway.start("127.0.0.1", 0)
    members = [
        (
            create_access_token(
                secret=ctx.jwt_secret, user_id=uid, session_id=sid, role="user", ttl_seconds=86400
            )[0],
            str(rooms[i // args.room_size]),
        )
        for i, (uid, sid) in enumerate(users)
    ]
    spec_file = tmp / "spec.json"
    spec = {
        "url": f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
        "members": members,
        "interval": args.members / args.rate,
        "room_size": args.room_size,
    }
    await asyncio.to_thread(spec_file.write_text, json.dumps(spec))
    clients = await asyncio.create_subprocess_exec(
        *_pinned(
            1,
            [sys.executable, __file__, "--clients", str(spec_file), str(args.seconds)],
        ),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert clients.stdout is not None and clients.stdin is not None
    line = await asyncio.wait_for(clients.stdout.readline(), 240)
    if not line.startswith(b"READY"):
        raise SystemExit(f"clients did not connect: {line!r}")
    await asyncio.sleep(0.5)
    clients.stdin.write(b"GO\n")
    await clients.stdin.drain()
    report = json.loads(await asyncio.wait_for(clients.stdout.readline(), args.seconds + 120))
    await clients.wait()
    await gateway.stop()
    await ctx.close()
    if scratch and args.postgres:
        await _drop_postgres(args.postgres, scratch)
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "bench": "chat",
        "database": "postgresql" if args.postgres else "sqlite",
        "members": args.members,
        "room_size": args.room_size,
        "rooms": len(rooms),
        "target_msgs_per_s": args.rate,
        "seconds": args.seconds,
        **report,
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_1m": round(os.getloadavg()[0], 2),  # others' work on a shared machine
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--room-size", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second, in all")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--postgres", help="a PostgreSQL URL to make a scratch database on")
    parser.add_argument("--clients", nargs=2, metavar=("SPEC", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients:
        asyncio.run(run_clients(Path(args.clients[0]), float(args.clients[1]), drain=5.0))
        return
    if args.members % args.room_size:
        raise SystemExit("--members must be a multiple of --room-size")
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # the server on CPU 0, the clients on CPU 1
    print(json.dumps(asyncio.run(bench(args))), flush=True)


if __name__ == "__main__":
    main()
