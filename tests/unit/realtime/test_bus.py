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


class _Counted(Event):
    """An event that counts how often the bus asks for its payload."""

    type: str = "note:counted"
    n: int

    def payload(self) -> dict[str, Any]:
        _payload_calls.append(self.n)
        return super().payload()


_payload_calls: list[int] = []


async def test_one_event_to_many_rooms_is_encoded_once_with_an_offset_per_user(bus: Bus) -> None:
    import asyncio

    _payload_calls.clear()
    got: list[BusMessage] = []
    users = [f"user:{n}" for n in range(100, 700)]  # more than one Redis script call's worth
    rooms = (*users[:300], "stage:9", *users[300:])
    for room in ("user:100", "user:399", "stage:9", "user:699"):
        await bus.subscribe(room, got.append)
    await publish_deliveries(bus, [Delivery(event=_Counted(n=1), rooms=rooms)])
    for _ in range(200):
        if len(got) == 4:
            break
        await asyncio.sleep(0.01)
    assert _payload_calls == [1]
    assert [m.room for m in got] == ["user:100", "user:399", "stage:9", "user:699"]
    for message in got:
        assert message.data() == {"n": 1}
        if message.room == "stage:9":
            assert message.offset is None
            assert message.args == '["note:counted",{"n":1}]'
        else:
            assert message.offset is not None
            assert message.args == f'["note:counted",{{"n":1}},{{"offset":"{message.offset}"}}]'
    assert len({m.offset for m in got}) == 4
    # every user room got its own history entry, recoverable from before the event
    for room in users[::97]:
        missed = await bus.history(room, "0-1")
        assert missed is not None and len(missed) == 1
        assert missed[0].data() == {"n": 1}
        assert missed[0].args.endswith(f',{{"offset":"{missed[0].offset}"}}]')


async def test_publish_many_with_one_shared_payload_keeps_order_and_offsets(bus: Bus) -> None:
    import asyncio

    got: list[BusMessage] = []
    await bus.subscribe("user:21", got.append)
    shared = {"status": "online"}
    await bus.publish_many(
        [("user:20", "p", shared), ("user:21", "p", shared), ("user:21", "p", {"status": "idle"})]
    )
    for _ in range(200):
        if len(got) == 2:
            break
        await asyncio.sleep(0.01)
    assert [m.data() for m in got] == [{"status": "online"}, {"status": "idle"}]
    keys = [parse_offset(m.offset or "") for m in got]
    assert keys[0] is not None and keys[1] is not None and keys[0] < keys[1]
    history = await bus.history("user:20", "0-1")
    assert history is not None and [m.data() for m in history] == [{"status": "online"}]


async def test_memory_sweep_forgets_rooms_emptied_by_age() -> None:
    import asyncio

    bus = InProcessBus(history_max_age_seconds=0)
    offset = await bus.publish("user:30", "e", 1)
    await asyncio.sleep(0.01)
    assert await bus.history("user:30", offset or "") is None  # aged out; trims the room empty
    assert bus._history["user:30"].entries == []
    for n in range(5000):  # enough publishes to run the sweep
        await bus.publish(f"user:{31 + n % 3}", "e", n)
    assert "user:30" not in bus._history


def test_offset_clock_reserve_keeps_offsets_increasing() -> None:
    from townsquare.infra.bus import OffsetClock

    clock = OffsetClock()
    before = clock.next()
    first = clock.reserve(1000)
    after = clock.next()
    assert before < first
    assert (first[0], first[1] + 999) < after
