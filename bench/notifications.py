"""Notification fan-out benchmark: a post by a user with N followers who all have notifications on.

Measures, from the moment the post's transaction starts:
  * stored_s    until every in-app notification is committed (one row per follower),
  * delivered_s until every online follower's socket got `notification:new`,
  * notifications_per_s = followers / stored_s,
and the time until the delivery jobs (push/email decisions) have drained.

The server side runs as `townsquare serve` does in embedded mode (SQLite, in-process bus and
jobs, the gateway in the same process); the online followers are raw Socket.IO WebSocket clients
in a second process, pinned to the other CPU when `taskset` exists. Followers are made through
the social domain's own follow action.

    .venv/bin/python bench/notifications.py [--followers 10000] [--online 1000]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from api_baseline import machine_info, pinned  # noqa: E402

# --- the online followers: raw Engine.IO v4 / Socket.IO v5 clients ---------------------------


async def _client(url: str, token: str, ready: asyncio.Event, got: list[float]) -> None:
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
        ready.set()
        while True:
            frame = str(await ws.recv())
            if frame == "2":
                await ws.send("3")
            elif frame.startswith('42/realtime,["notification:new"'):
                got.append(time.monotonic())
                return


async def run_clients(url: str, tokens_file: Path, within: float) -> None:
    """Connect every token, print READY, then print when each got its notification."""
    tokens: list[str] = json.loads(await asyncio.to_thread(tokens_file.read_text))
    got: list[float] = []
    readies = [asyncio.Event() for _ in tokens]
    tasks = []
    for n, token in enumerate(tokens):
        tasks.append(asyncio.create_task(_client(url, token, readies[n], got)))
        if n % 100 == 99:
            await asyncio.sleep(0.05)  # do not flood the accept queue
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    print("READY", flush=True)
    done, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()
    errors = sum(1 for t in done if t.exception() is not None)
    print(
        json.dumps({"received": len(got), "last": max(got) if got else None, "errors": errors}),
        flush=True,
    )


# --- the server side ------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select

    from townsquare.config import Settings
    from townsquare.core.ids import new_id
    from townsquare.core.logging import configure_logging
    from townsquare.core.migrations import upgrade
    from townsquare.core.security import create_access_token
    from townsquare.demo import insert_signed_in_members
    from townsquare.domains.accounts.policy import Principal
    from townsquare.domains.notifications import actions as notifications
    from townsquare.domains.notifications.models import Notification
    from townsquare.domains.social import actions as social_actions
    from townsquare.domains.social import queries as social_queries
    from townsquare.realtime import Gateway
    from townsquare.wiring import create_context

    configure_logging("WARNING", json=True)
    tmp = Path(tempfile.mkdtemp(prefix="ts-bench-notify-"))
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
        gateway_max_buffer_bytes=4 * 1024 * 1024,
    )
    ctx = create_context(settings)
    await ctx.start()
    setup_started = time.monotonic()
    author_id = new_id()
    followers = [(new_id(), new_id()) for _ in range(args.followers)]
    everyone = [(author_id, new_id()), *followers]
    async with ctx.db.transaction() as session:
        await insert_signed_in_members(session, everyone, prefix="b")
    for start in range(0, len(followers), 1000):  # the social domain's own follow action
        async with ctx.db.transaction() as session:
            for uid, sid in followers[start : start + 1000]:
                me = Principal(user_id=uid, session_id=sid, role="user", username="x")
                await social_actions.check_follow(session, principal=me, username="b0")
    setup_s = time.monotonic() - setup_started

    gateway = Gateway(ctx)
    port = await gateway.start("127.0.0.1", 0)
    online = followers[: args.online]
    tokens = [
        create_access_token(
            secret=ctx.jwt_secret, user_id=uid, session_id=sid, role="user", ttl_seconds=86400
        )[0]
        for uid, sid in online
    ]
    tokens_file = tmp / "tokens.json"
    await asyncio.to_thread(tokens_file.write_text, json.dumps(tokens))
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    clients = await asyncio.create_subprocess_exec(
        *pinned([sys.executable, __file__, "--clients", url, str(tokens_file)], 1),
        stdout=asyncio.subprocess.PIPE,
    )
    assert clients.stdout is not None
    line = await asyncio.wait_for(clients.stdout.readline(), 180)
    if not line.startswith(b"READY"):
        raise SystemExit(f"clients did not connect: {line!r}")
    await asyncio.sleep(0.5)  # let presence settle

    started = time.monotonic()
    async with ctx.db.transaction() as session:
        audience = await social_queries.follower_ids(session, user_id=author_id)
        created = await notifications.notify_many(
            session,
            recipient_ids=audience,
            type="new_post",
            actor_id=author_id,
            target=notifications.Target("post", new_id()),
        )
    stored_s = time.monotonic() - started
    report = json.loads(await asyncio.wait_for(clients.stdout.readline(), 120))
    await clients.wait()
    await ctx.jobs.idle(within=300)
    drained_s = time.monotonic() - started
    async with ctx.db.read() as session:
        rows = (await session.execute(select(func.count()).select_from(Notification))).scalar()
    await gateway.stop()
    await ctx.close()
    shutil.rmtree(tmp, ignore_errors=True)
    delivered_s = report["last"] - started if report["last"] else None
    return {
        "bench": "notifications",
        "followers": args.followers,
        "online": args.online,
        "created": created,
        "rows": rows,
        "online_received": report["received"],
        "client_errors": report["errors"],
        "stored_s": round(stored_s, 3),
        "delivered_s": round(delivered_s, 3) if delivered_s is not None else None,
        "jobs_drained_s": round(drained_s, 3),
        "notifications_per_s": round(created / stored_s),
        "setup_s": round(setup_s, 1),
        "machine": machine_info(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--online", type=int, default=1_000)
    parser.add_argument("--clients", nargs=2, metavar=("URL", "TOKENS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients:
        asyncio.run(run_clients(args.clients[0], Path(args.clients[1]), within=60))
        return
    if args.online > args.followers:
        raise SystemExit("--online cannot exceed --followers")
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # the server on CPU 0, the clients on CPU 1
    print(json.dumps(asyncio.run(bench(args))), flush=True)


if __name__ == "__main__":
    main()
