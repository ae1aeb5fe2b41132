"""Chat benchmark: members in group rooms, each sending a message every few seconds.

The members are raw Engine.IO v4 / Socket.IO v5 WebSocket connections driven by a C load
generator (bench/chatgen.c, compiled on first use, pinned to the other CPU when `taskset`
exists, reporting its own CPU share so it is shown not to be the limit). Each joins its room with
`chat:join`; members send `chat:message` round-robin so the group offers each step's rate evenly
(every member every members/rate seconds); a message is stored (sequence taken, row committed)
before it is acknowledged. The send time travels in the text, so latencies are from the
sender's write to each member's `chat:new_message` (one clock: the load generator's):

  * deliver_p50/p99_ms  send -> every member's chat:new_message (room_size deliveries each),
  * ack_p50/p99_ms      send -> the sender's ack (message persisted),
  * lost                deliveries expected (room_size x messages acked) but never seen,
  * unacked             sends still without an ack when the step ended (only past saturation),
  * reordered           deliveries whose room sequence was not the previous one the member saw + 1.

The server side runs as `townsquare serve` does (on uvloop, the gateway in the API process,
in-process bus and jobs) on SQLite, or on PostgreSQL with `--postgres URL` (a scratch database
is created there and dropped after), pinned to CPU 0.

    .venv/bin/python bench/chat.py [--members 1000] [--room-size 50] [--rate 1000 3000]
        [--seconds 10] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Prints one JSON line with a result per rate step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_baseline import machine_info, pinned, scratch_postgres_async

# --- the members: bench/chatgen.c ------------------------------------------------------------


def _chatgen() -> Path:
    """Compile the C load generator once (rebuilt when its source is newer)."""
    source = Path(__file__).resolve().parent / "chatgen.c"
    binary = Path(__file__).resolve().parent / ".peer" / "chatgen"
    binary.parent.mkdir(exist_ok=True)
    newest = max(source.stat().st_mtime, (source.parent / "wsclient.h").stat().st_mtime)
    if not binary.exists() or binary.stat().st_mtime < newest:
        subprocess.run(["gcc", "-O2", "-o", str(binary), str(source)], check=True)
    return binary


# --- the server side -----------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:

    from townsquare.config import Settings
    from townsquare.core.ids import new_id
    from townsquare.core.logging import configure_logging
    from townsquare.core.migrations import upgrade
    from townsquare.core.security import create_access_token
    from townsquare.demo import insert_signed_in_members
    from townsquare.domains.chat import actions as chat_actions
    from townsquare.domains.chat.schemas import CreateRoom
    from townsquare.realtime import Gateway
    from townsquare.wiring import create_context

    configure_logging("WARNING", json=True)
    tmp = Path(tempfile.mkdtemp(prefix="ts-bench-chat-"))
    scratch: str | None = None
    if args.postgres:
        scratch = f"ts_bench_chat_{secrets.token_hex(4)}"
        db_url = await scratch_postgres_async(args.postgres, scratch, drop=False)
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
        chat_notify_delay_seconds=2.0,  # the notify jobs run (and cost) inside the measured steps
    )
    ctx = create_context(settings)
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
    spec_file = tmp / "members.txt"
    lines = "".join(f"{token} {room}\n" for token, room in members)
    await asyncio.to_thread(spec_file.write_text, lines)
    clients = await asyncio.create_subprocess_exec(
        *pinned(
            [
                str(_chatgen()),
                "127.0.0.1",
                str(port),
                "/realtime",
                str(spec_file),
                str(args.room_size),
                str(args.seconds),
                *(str(r) for r in args.rate),
            ],
            1,
        ),
        stdout=asyncio.subprocess.PIPE,
    )
    assert clients.stdout is not None
    steps = []
    cpu, wall = time.process_time(), time.monotonic()
    while line := await clients.stdout.readline():
        step = json.loads(line)
        if "joined" in step:
            cpu, wall = time.process_time(), time.monotonic()
            continue
        # this process is the server: its CPU share per step, and CPU per stored message
        used, took = time.process_time() - cpu, time.monotonic() - wall
        step["server_cpu"] = round(used / took, 2)
        step["server_cpu_ms_per_msg"] = round(1000 * used / max(1, step["acked"]), 3)
        steps.append(step)
        cpu, wall = time.process_time(), time.monotonic()
    await clients.wait()
    await gateway.stop()
    await ctx.close()
    if scratch and args.postgres:
        await scratch_postgres_async(args.postgres, scratch, drop=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "bench": "chat",
        "database": "postgresql" if args.postgres else "sqlite",
        "members": args.members,
        "room_size": args.room_size,
        "rooms": len(rooms),
        "seconds_per_step": args.seconds,
        "steps": steps,
        "machine": machine_info(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--room-size", type=int, default=50)
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[1000.0, 3000.0],
        help="msgs/s, per step",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--postgres", help="a PostgreSQL URL to make a scratch database on")
    args = parser.parse_args()
    if args.members % args.room_size:
        raise SystemExit("--members must be a multiple of --room-size")
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # the server on CPU 0, the clients on CPU 1
    import uvloop  # as `townsquare serve` runs

    print(json.dumps(uvloop.run(bench(args))), flush=True)


if __name__ == "__main__":
    main()
