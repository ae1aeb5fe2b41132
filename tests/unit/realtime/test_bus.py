"""The in-process bus: offsets, history window, gaps; Redis when the test Redis is configured."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from townsquare.core.events import Delivery, Event
from townsquare.infra.bus import (
    Bus,
    BusMessage,
    InProcessBus,
    make_bus,
    parse_offset,
    publish_deliveries,
)

REDIS_URL = os.environ.get("TOWNSQUARE_TEST_REDIS_URL")


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "redis" and not REDIS_URL:
        pytest.skip("TOWNSQUARE_TEST_REDIS_URL is not set")
    the_bus = make_bus(
        REDIS_URL if request.param == "redis" else None,
        prefix=f"test-{secrets.token_hex(6)}:",
        history_max_events=5,
    )
    await the_bus.start()
    yield the_bus
    await the_bus.close()


async def test_user_rooms_get_increasing_offsets_and_history(bus: Bus) -> None:
    offsets = [await bus.publish("user:1", "notification:new", {"n": n}) for n in range(4)]
    assert all(o is not None for o in offsets)
    keys = [parse_offset(o or "") for o in offsets]
    assert keys == sorted(keys)
    assert len(set(offsets)) == 4
    missed = await bus.history("user:1", offsets[1] or "")
    assert missed is not None
    assert [m.offset for m in missed] == offsets[2:]
    assert missed[0].args == f'["notification:new",{{"n":2}},{{"offset":"{offsets[2]}"}}]'
    assert await bus.history("user:1", offsets[3] or "") == []


async def test_window_that_no_longer_reaches_back_is_a_gap(bus: Bus) -> None:
    first = await bus.publish("user:2", "e", 0)
    for n in range(1, 8):
        await bus.publish("user:2", "e", n)
    assert await bus.history("user:2", first or "") is None
    assert await bus.history("user:2", "garbage") is None


async def test_live_rooms_have_no_offsets(bus: Bus) -> None:
    assert await bus.publish("stream:9", "gift:sent", {"x": 1}) is None


async def test_subscribers_receive_in_order(bus: Bus) -> None:
    import asyncio

    got: list[BusMessage] = []
    await bus.subscribe("user:3", got.append)
    await publish_deliveries(
        bus,
        [Delivery(event=_Note(n=n), rooms=("user:3", "user:4")) for n in range(3)],
    )
    for _ in range(200):
        if len(got) == 3:
            break
        await asyncio.sleep(0.01)
    assert [m.data() for m in got] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(m.room == "user:3" and m.event == "note:new" for m in got)
    await bus.unsubscribe("user:3", got.append)


class _Note(Event):
    type: str = "note:new"
    n: int


async def test_memory_history_before_process_start_is_a_gap() -> None:
    bus = InProcessBus()
    assert await bus.history("user:5", "1-0") is None
    offset = await bus.publish("user:5", "e", 1)
    assert await bus.history("user:5", offset or "") == []


def test_parse_offset() -> None:
    assert parse_offset("12-3") == (12, 3)
    for bad in ("", "12", "a-b", "-1", "1-", "1-2-3"):
        assert parse_offset(bad) is None


async def test_publish_many_keeps_order_across_rooms(bus: Bus) -> None:
    import asyncio

    got: list[tuple[str, Any]] = []

    def record(message: BusMessage) -> None:
        got.append((message.room, message.data()))

    await bus.subscribe("user:7", record)
    await bus.subscribe("stage:7", record)
    await bus.publish_many(
        [("user:7", "e", 1), ("stage:7", "e", 2), ("user:8", "e", 3), ("user:7", "e", 4)]
    )
    for _ in range(200):
        if len(got) == 3:
            break
        await asyncio.sleep(0.01)
    assert got == [("user:7", 1), ("stage:7", 2), ("user:7", 4)]


def test_make_bus_for_uses_namespace_and_window() -> None:
    from townsquare.config import Settings
    from townsquare.infra.bus import RedisBus, make_bus_for

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url="redis://127.0.0.1:1/0",
        redis_namespace="tenant-a",
        gateway_history_max_events=7,
    )
    bus = make_bus_for(settings)
    assert isinstance(bus, RedisBus)
    assert bus.prefix == "tenant-a:"
    embedded = make_bus_for(Settings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(embedded, InProcessBus)
