"""Publishing one event to many user rooms: the bus's cost per event, in process or with Redis.

One `feed:new_post`-like event (~470 bytes of JSON) goes through `publish_deliveries` to N
durable user rooms, as an action's committed event does. Optionally L of those users have a
gateway connection: real `Connection`s in a real `Gateway` (its bus handler, per-recipient
offset frames and per-loop-pass flush), with transports that count and discard the bytes, so the
figure is the server's own work and no client's. Reports the median time from publishing to every
listener's frame written.

    taskset -c 0 .venv/bin/python bench/bus_publish.py [--rooms 10000] [--listeners 1000]
        [--redis redis://127.0.0.1:6379/0]

Prints one JSON line. With Redis, the keys it made are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from townsquare.config import Settings
from townsquare.core.events import Delivery, Event
from townsquare.infra.bus import RedisBus, make_bus, publish_deliveries
from townsquare.realtime import Gateway, HandlerRegistry
from townsquare.realtime.gateway import Connection
from townsquare.wiring import create_context


class Author(BaseModel):
    id: int
    username: str
    display_name: str
    avatar_url: str | None


class NewPost(Event):
    """A feed-like event: nested model, ids, timestamps, ~400 bytes of JSON."""

    type: Literal["feed:new_post"] = "feed:new_post"
    post_id: int
    author: Author
    text: str
    created_at: datetime
    tags: list[str]
    likes_count: int
    comments_count: int


class _Tally:
    """How many listeners still wait for this round's frame."""

    def __init__(self) -> None:
        self.waiting = 0
        self.done = asyncio.Event()

    def expect(self, listeners: int) -> None:
        self.waiting = listeners
        self.done.clear()
        if not listeners:
            self.done.set()


class _Transport:
    """Counts what the gateway writes; never backs up."""

    def __init__(self, tally: _Tally) -> None:
        self.tally = tally
        self.bytes = 0

    def write(self, data: bytes) -> None:
        if not self.bytes:
            self.tally.waiting -= 1
            if not self.tally.waiting:
                self.tally.done.set()
        self.bytes += len(data)

    def get_write_buffer_size(self) -> int:
        return 0


class _Http:
    """Stands in for the connection's `HttpConn`: open, with a transport."""

    closed = False

    def __init__(self, tally: _Tally) -> None:
        self.transport = _Transport(tally)


async def run(rooms: int, listeners: int, repeat: int, redis_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp))
        ctx = create_context(settings)
        if redis_url:
            ctx = dataclasses.replace(
                ctx, bus=make_bus(redis_url, prefix=f"busbench-{secrets.token_hex(4)}:")
            )
            await ctx.bus.start()
        bus = ctx.bus
        gw = Gateway(
            ctx, registry=HandlerRegistry(), metrics_registry=CollectorRegistry(), freeze_gc=False
        )
        tally = _Tally()
        conns = []
        for i in range(listeners):
            conn = Connection(gw, f"s{i}")
            conn.ws = _Http(tally)  # type: ignore[assignment]
            conn.state = "connected"
            await gw._add_member(conn, f"user:{i + 1}")
            conns.append(conn)
        event = NewPost(
            post_id=7_300_000_000_000_001,
            author=Author(
                id=7_300_000_000_000_002,
                username="ana_lima",
                display_name="Ana Lima",
                avatar_url="/media/avatars/7300000000000002/3f2a.webp",
            ),
            text="Morning run by the river, 8 km before the rain. Who is in for Saturday? " * 2,
            created_at=datetime(2026, 11, 22, 1, 0, tzinfo=UTC),
            tags=["running", "river", "saturday"],
            likes_count=0,
            comments_count=0,
        )
        targets = tuple(f"user:{i + 1}" for i in range(rooms))
        times = []
        arrived = []
        for _ in range(repeat):
            tally.expect(listeners)
            for c in conns:
                c.ws.transport.bytes = 0  # type: ignore[union-attr]
            started = time.perf_counter()
            await publish_deliveries(bus, [Delivery(event=event, rooms=targets)])
            times.append(time.perf_counter() - started)
            await tally.done.wait()  # the gateway writes in its next loop pass
            arrived.append(time.perf_counter() - started)
        # every user room kept its own history entry per event
        sample = targets[:: max(1, rooms // 10)]
        kept = [len(await bus.history(room, "0-1") or []) for room in sample]
        await ctx.db.dispose()
        if isinstance(bus, RedisBus):
            redis: Any = bus.redis
            keys = [key async for key in redis.scan_iter(match=bus.prefix + "*", count=1000)]
            for start in range(0, len(keys), 1000):
                await redis.delete(*keys[start : start + 1000])
            await bus.close()
    return {
        "rooms": rooms,
        "listeners": listeners,
        "payload_bytes": len(json.dumps(event.payload())),
        "published_median_s": round(statistics.median(times), 4),
        "published_min_s": round(min(times), 4),
        "all_delivered_median_s": round(statistics.median(arrived), 4),
        "bus": "redis" if redis_url else "in-process",
        "history_ok": all(k == min(repeat, settings.gateway_history_max_events) for k in kept),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--listeners", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--redis", default=None, help="a Redis URL: measure RedisBus instead")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rooms, args.listeners, args.repeat, args.redis))))


if __name__ == "__main__":
    main()
