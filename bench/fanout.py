"""Fan-out benchmark: our gateway against Node Socket.IO 4.x, same room semantics, one run.

Each server runs pinned to CPU 0 (`taskset`); the load generator (bench/loadgen.c, a single
epoll thread in C, compiled here) runs pinned to CPU 1. N receivers join one room through an
acked `bench:join`; a publisher emits `bench:publish {t}` at rising rates and the server
broadcasts `bench:msg` to the room. The load generator reports, per rate step, deliveries/s,
p50/p99/max latency, loss and its own CPU share (well under 1.0 means it was not the limit).

    .venv/bin/python bench/fanout.py [--receivers 1000] [--duration 5] [--rates 25,50,...]

Prints one JSON line. Node Socket.IO is installed into bench/.peer/ with npm on first run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_baseline import cpu_model, pinned

BENCH = Path(__file__).resolve().parent
PEER = BENCH / ".peer"
SOCKET_IO_VERSION = "4.8.1"
P99_BUDGET_MS = 50.0

NODE_SERVER = """
const { Server } = require("socket.io");
const io = new Server(Number(process.argv[2]), { transports: ["websocket", "polling"] });
const nsp = io.of("/realtime");
nsp.on("connection", (socket) => {
  socket.on("bench:join", (data, ack) => {
    socket.join("bench:room");
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("bench:publish", (data) => nsp.to("bench:room").emit("bench:msg", data));
});
console.log("READY " + process.argv[2] + " {}");
"""


def ensure_peer() -> None:
    """Install socket.io (server) with npm and compile the load generator, once."""
    PEER.mkdir(exist_ok=True)
    if not (PEER / "node_modules" / "socket.io" / "package.json").exists():
        (PEER / "package.json").write_text('{"private": true}\n')
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                f"socket.io@{SOCKET_IO_VERSION}",
            ],
            cwd=PEER,
            check=True,
        )
    (PEER / "server.js").write_text(NODE_SERVER)
    binary = PEER / "loadgen"
    source = BENCH / "loadgen.c"
    newest = max(source.stat().st_mtime, (BENCH / "wsclient.h").stat().st_mtime)
    if not binary.exists() or binary.stat().st_mtime < newest:
        subprocess.run(["gcc", "-O2", "-o", str(binary), str(source)], check=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(kind: str, port: int) -> tuple[subprocess.Popen[str], str]:
    if kind == "node":
        argv = ["node", str(PEER / "server.js"), str(port)]
        cwd = PEER
    else:
        argv = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
        cwd = BENCH.parent
    proc = subprocess.Popen(
        pinned(argv, 0), cwd=cwd, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    while line and not line.startswith("READY"):  # skip start-up log lines
        line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise SystemExit(f"{kind} server did not start")
    auth = line.split(" ", 2)[2].strip()
    return proc, auth


def run_load(
    port: int, auth: str, receivers: int, duration: float, rates: list[float]
) -> list[dict[str, Any]]:
    argv = [
        str(PEER / "loadgen"),
        "127.0.0.1",
        str(port),
        "/realtime",
        auth,
        str(receivers),
        str(duration),
        *(str(r) for r in rates),
    ]
    budget = 60 + len(rates) * (duration + 5)
    out = subprocess.run(pinned(argv, 1), capture_output=True, text=True, timeout=budget)
    if out.returncode != 0:
        raise SystemExit(f"load generator failed: {out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _passes(step: dict[str, Any]) -> bool:
    return bool(step["loss"] == 0 and step["p99_ms"] <= P99_BUDGET_MS)


def sustained(steps: list[dict[str, Any]]) -> float:
    """The highest offered deliveries/s with zero loss and p99 within budget (0 if none)."""
    return max((s["offered_deliveries_per_s"] for s in steps if _passes(s)), default=0.0)


def sustained_without_gaps(steps: list[dict[str, Any]]) -> float:
    """The highest rate below which every step passed too: the conservative reading."""
    best = 0.0
    for step in steps:
        if not _passes(step):
            break
        best = step["offered_deliveries_per_s"]
    return best


def bench(args: argparse.Namespace) -> dict[str, Any]:
    ensure_peer()
    rates = [float(r) for r in args.rates.split(",")]
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {}
    for kind in args.servers.split(","):
        port = free_port()
        proc, auth = start_server("node" if kind == "node" else "ours", port)
        try:
            steps = run_load(port, auth, args.receivers, args.duration, rates)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        results[kind] = {
            "sustained_deliveries_per_s": sustained(steps),
            "sustained_without_gaps": sustained_without_gaps(steps),
            "steps": steps,
        }
        time.sleep(1)
    ours = results.get("townsquare", {}).get("sustained_deliveries_per_s", 0.0)
    node = results.get("node", {}).get("sustained_deliveries_per_s", 0.0)
    ours_strict = results.get("townsquare", {}).get("sustained_without_gaps", 0.0)
    node_strict = results.get("node", {}).get("sustained_without_gaps", 0.0)
    return {
        "benchmark": "fanout",
        "receivers": args.receivers,
        "duration_s": args.duration,
        "event_loop": args.loop,
        "p99_budget_ms": P99_BUDGET_MS,
        "ratio_vs_node": round(ours / node, 2) if node else None,
        "ratio_vs_node_without_gaps": round(ours_strict / node_strict, 2) if node_strict else None,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "node": subprocess.run(
                ["node", "--version"], capture_output=True, text=True
            ).stdout.strip(),
            "socket.io": SOCKET_IO_VERSION,
            # other work on a shared machine moves p99 more than anything else: say how busy
            "load_avg_1m_before": round(load_before, 2),
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        },
        **results,
    }


# --- our server, started by the benchmark in its own process -------------------------------


async def prepare(data_dir: Path, users: int) -> None:
    """Create the embedded database with `users` bench users; keep the secret and tokens there."""

    from townsquare.core.db import Database
    from townsquare.core.ids import new_id
    from townsquare.core.migrations import upgrade
    from townsquare.core.security import create_access_token
    from townsquare.demo import insert_signed_in_members

    db_url = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
    await asyncio.to_thread(upgrade, db_url)
    secret = secrets.token_urlsafe(48)
    db = Database(db_url)
    accounts = [(new_id(), new_id()) for _ in range(users)]
    async with db.transaction() as session:
        await insert_signed_in_members(session, accounts, prefix="bench")
    await db.dispose()
    tokens = [
        create_access_token(
            secret=secret, user_id=uid, session_id=sid, role="user", ttl_seconds=86400
        )[0]
        for uid, sid in accounts
    ]
    await asyncio.to_thread((data_dir / "secret").write_text, secret)
    await asyncio.to_thread((data_dir / "tokens.json").write_text, json.dumps(tokens))


async def serve_ours(port: int, *, data_dir: Path | None = None) -> None:
    """A gateway on an embedded database with bench users; prints READY <port> <auth>.

    Without `data_dir` one bench user is prepared in a temporary directory first; with it, the
    database, secret and tokens made by `prepare` (in another process, so the set-up's memory
    does not count as the gateway's) are used.
    """
    from townsquare.config import Settings
    from townsquare.core.logging import configure_logging
    from townsquare.realtime import Gateway, HandlerContext, HandlerRegistry
    from townsquare.wiring import create_context

    configure_logging("WARNING", json=True)
    owned = data_dir is None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="ts-bench-"))
        await prepare(data_dir, 1)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
        jwt_secret=(data_dir / "secret").read_text(),
        log_level="WARNING",
        gateway_events_per_second=1_000_000,
        gateway_max_connections_per_user=1_000_000,
        gateway_max_buffer_bytes=4 * 1024 * 1024,
    )
    ctx = create_context(settings)
    await ctx.start()
    token = json.loads((data_dir / "tokens.json").read_text())[0]
    registry = HandlerRegistry()

    @registry.room_policy("bench:")
    async def anyone(hctx: HandlerContext, room: str) -> None:
        return None

    @registry.on("bench:join", state_changing=False)
    async def join(hctx: HandlerContext, data: Any) -> dict[str, bool]:
        await hctx.join("bench:room")
        return {"joined": True}

    @registry.on("bench:publish", state_changing=False)
    async def publish(hctx: HandlerContext, data: Any) -> None:
        await hctx.app.bus.publish("bench:room", "bench:msg", data)

    gateway = Gateway(ctx, registry=registry)
    await gateway.start("127.0.0.1", port)  # also freezes start-up objects out of the GC
    print(f"READY {port} {json.dumps({'token': token})}", flush=True)
    await asyncio.to_thread(sys.stdin.read)  # until the benchmark closes our stdin
    await gateway.stop()
    await ctx.close()
    if owned:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--receivers", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument(
        "--rates",
        default="25,50,100,150,200,250,300,400,500,600",
        help="messages per second published into the room, comma-separated",
    )
    parser.add_argument("--servers", default="townsquare,node", help="which servers to run")
    parser.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop", help="our server's event loop"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if os.environ.get("TS_BENCH_LOOP") == "asyncio":
            asyncio.run(serve_ours(args.serve))
        else:
            import uvloop

            uvloop.run(serve_ours(args.serve))
        return
    os.environ["TS_BENCH_LOOP"] = args.loop  # inherited by our server process
    print(json.dumps(bench(args)))


if __name__ == "__main__":
    main()
