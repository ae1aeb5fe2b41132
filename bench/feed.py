"""Feed benchmark: home feed page latency and throughput on a generated community, one core.

Generates a community with `townsquare demo --users N` (about 20 posts and 100 graph edges per
member), starts `townsquare serve` pinned to core 0, drives it from core 1 with the raw
keep-alive client of bench/api_baseline.py, and prints one JSON line:

- first page (ranked: builds and stores a snapshot), later page (read from the snapshot) and
  `sort=latest` first page: p50/p99 with one client, requests/s with several;
- creating a post as the most-followed member, and how long until it tops a follower's feed.

    .venv/bin/python bench/feed.py [--users 10000] [--seconds 10] [--concurrency 16]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres [--database NAME]]
        [--keep DIR]

With --keep DIR the generated data is kept in (and reused from) DIR: the SQLite file, or for
PostgreSQL the marker that database NAME (default `townsquare_bench_feed_<users>`, created next
to the --postgres URL's database) holds a generated community. Kept data is migrated before
each run (new indexes apply). The load average before and after is printed with the figures,
because the machines are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_baseline import (
    BIN,
    RawClient,
    build_request,
    drive,
    machine_description,
    scratch_postgres,
    start_serve,
)

SEED = 7
MEMBER_PASSWORD = f"member-town-{SEED:04d}"
READERS = 24


async def login(port: int, username: str, password: str) -> str:
    client = RawClient(port)
    await client.open()
    status, body = await client.request(
        build_request(
            "POST", "/api/v1/auth/login", {"username": username, "password": password}, None
        )
    )
    client.close()
    if status != 200:
        raise SystemExit(f"login of {username} failed: {status} {body[:200]!r}")
    return str(json.loads(body)["access_token"])


async def get(port: int, path: str, token: str) -> dict[str, object]:
    client = RawClient(port)
    await client.open()
    status, body = await client.request(build_request("GET", path, None, token))
    client.close()
    if status != 200:
        raise SystemExit(f"GET {path} failed: {status} {body[:300]!r}")
    return dict(json.loads(body))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timed(
    port: int, requests: list[bytes], *, seconds: float, concurrency: int, server: int = 0
) -> dict[str, float]:
    """Closed loop: each connection cycles through the readers' requests for `seconds`."""
    # server_cpu_ms, the server's own CPU per request, does not grow when others take its core
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        client = RawClient(port)
        await client.open()
        i = offset
        try:
            while time.perf_counter() < stop_at:
                raw = requests[i % len(requests)]
                i += 1
                started = time.perf_counter()
                status, _ = await client.request(raw)
                latencies.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            client.close()

    wall0, cpu0 = time.perf_counter(), cpu_seconds(server)
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    wall, cpu = time.perf_counter() - wall0, cpu_seconds(server) - cpu0
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(q[49] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "server_cpu_ms": round(cpu * 1000 / len(latencies), 2),
    }


async def measure(
    port: int, args: argparse.Namespace, env: dict[str, str], server: int
) -> dict[str, object]:
    names = [f"member{i:06d}" for i in range(0, min(args.users - 12, 5000), 97)][:READERS]
    tokens = [await login(port, name, MEMBER_PASSWORD) for name in names]
    first = [build_request("GET", "/api/v1/feed?limit=20", None, t) for t in tokens]
    latest = [build_request("GET", "/api/v1/feed?sort=latest&limit=20", None, t) for t in tokens]
    later = []
    for token in tokens:
        page = await get(port, "/api/v1/feed?limit=20", token)
        if page["next_cursor"]:
            later.append(
                build_request(
                    "GET", f"/api/v1/feed?limit=20&cursor={page['next_cursor']}", None, token
                )
            )
    sizes = [len((await get(port, "/api/v1/feed?limit=20", t))["items"]) for t in tokens[:5]]  # type: ignore[arg-type]
    await drive(port, first[0], seconds=1, concurrency=4)  # warm-up
    results: dict[str, object] = {"items_per_page": sizes}
    for name, requests in (("first_page", first), ("later_page", later), ("latest_page", latest)):
        results[name] = {
            "one_client": await timed(
                port, requests, seconds=args.seconds, concurrency=1, server=server
            ),
            "loaded": await timed(
                port, requests, seconds=args.seconds, concurrency=args.concurrency, server=server
            ),
        }
    results["post_to_followers"] = await post_latency(port, tokens[0], env)
    return results


async def post_latency(port: int, reader_token: str, env: dict[str, str]) -> dict[str, object]:
    """Create a post as the most-followed member; time until it tops a follower's feed."""
    star, followers = most_followed(env)
    token = await login(port, star, f"{star.replace('_', '-')}-town-{SEED:04d}")
    follower = await follower_of(port, star, token)
    follower_token = await login(port, follower, MEMBER_PASSWORD)
    create = build_request(
        "POST", "/api/v1/posts", {"text": "Benchmark announcement #bench"}, token
    )
    creates = []
    visible_after = []
    for _ in range(5):
        client = RawClient(port)
        await client.open()
        started = time.perf_counter()
        status, body = await client.request(create)
        created_at = time.perf_counter()
        creates.append((created_at - started) * 1000)
        if status != 201:
            raise SystemExit(f"post failed: {status} {body[:300]!r}")
        post_id = json.loads(body)["id"]
        poll = build_request("GET", "/api/v1/feed?sort=latest&limit=1", None, follower_token)
        while True:
            status, body = await client.request(poll)
            items = json.loads(body)["items"]
            if items and items[0]["id"] == post_id:
                break
        visible_after.append((time.perf_counter() - created_at) * 1000)
        client.close()
    return {
        "author": star,
        "followers": followers,
        "create_ms": [round(x, 1) for x in creates],
        "visible_in_follower_feed_ms": [round(x, 1) for x in visible_after],
    }


def most_followed(env: dict[str, str]) -> tuple[str, int]:
    """The demo member (known password) with the most followers."""
    code = (
        "import asyncio\n"
        "from sqlalchemy import select\n"
        "from townsquare.config import Settings\n"
        "from townsquare.core.db import Database\n"
        "from townsquare.domains.accounts.models import User\n"
        "async def main():\n"
        "    db = Database(Settings().resolved_database_url)\n"
        "    async with db.read() as s:\n"
        "        row = (await s.execute(select(User.username, User.followers_count)"
        ".where(~User.username.like('member%')).order_by(User.followers_count.desc())"
        ".limit(1))).one()\n"
        "    await db.dispose()\n"
        "    print(row[0], row[1])\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    return out[0], int(out[1])


async def follower_of(port: int, username: str, token: str) -> str:
    page = await get(port, f"/api/v1/users/{username}/followers?limit=100", token)
    for item in page["items"]:  # type: ignore[attr-defined]
        if str(item["username"]).startswith("member"):
            return str(item["username"])
    raise SystemExit("no generated follower found")


def prepare(args: argparse.Namespace, data: str, env: dict[str, str]) -> float:
    """Migrate, and generate the community unless a kept one exists; returns seconds spent."""
    marker = Path(data) / f"generated-{args.users}"
    quiet = {"env": env, "check": True, "capture_output": True}
    subprocess.run([str(BIN), "migrate"], **quiet)  # type: ignore[call-overload]
    if marker.exists():
        return 0.0
    started = time.perf_counter()
    subprocess.run([str(BIN), "demo", "--users", str(args.users)], **quiet)  # type: ignore[call-overload]
    marker.write_text("ok")
    return time.perf_counter() - started


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (others' work shares these cores)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", help="PostgreSQL URL to run against instead of SQLite")
    parser.add_argument(
        "--database", help="PostgreSQL database to generate into and reuse (with --keep)"
    )
    parser.add_argument("--keep", help="keep (and reuse) the generated data in this folder")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    scratch = args.database or f"townsquare_bench_feed_{args.users}"
    holder = None if args.keep else tempfile.TemporaryDirectory(prefix="ts-bench-feed-")
    data = args.keep or (holder.name if holder else "")
    Path(data).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNSQUARE_")}
    env.update(TOWNSQUARE_DATA_DIR=data, TOWNSQUARE_LOG_LEVEL="WARNING")
    try:
        if args.postgres:
            url = (
                scratch_postgres(args.postgres, scratch, drop=False)
                if not (Path(data) / f"generated-{args.users}").exists()
                else _scratch_url(args.postgres, scratch)
            )
            env["TOWNSQUARE_DATABASE_URL"] = url
        generate_seconds = prepare(args, data, env)
        load_before = load_average()
        server, port = start_serve(env, within=60)
        try:
            results = asyncio.run(measure(port, args, env, server.pid))
            results["load_average"] = {"before": load_before, "after": load_average()}
        finally:
            server.terminate()
            server.wait(timeout=20)
    finally:
        if args.postgres and not args.keep:
            scratch_postgres(args.postgres, scratch, drop=True)
        if holder is not None:
            holder.cleanup()
    print(
        json.dumps(
            {
                "benchmark": "feed",
                "database": "postgresql" if args.postgres else "sqlite",
                "users": args.users,
                "generate_seconds": round(generate_seconds, 1),
                "server_cores": 1,
                "machine": machine_description(),
                **results,
            }
        )
    )


def _scratch_url(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
