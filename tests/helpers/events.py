"""Event checks: captured deliveries by type, and contracts in the spirit of Zulip's verify_action.

`verify_action` runs an action, records every event the app hands to its bus meanwhile (after
commit, from actions, jobs, the like aggregator or a gateway handler) and checks the lot against
what the test expects: the exact number of events of each type, each one's exact recipients and
exact wire payload, and that the payload re-validates with its Event model and serialises back
unchanged. A contract test names the Event classes it covers with `@contract(...)`; the meta-test
in tests/contracts fails for an Event subclass without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import inspect
import json
import pkgutil
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from pydantic_core import PydanticUndefined

import townsquare
from tests.helpers.app import app_ctx
from tests.helpers.gateway import until
from townsquare.core.events import Delivery, Event

T = TypeVar("T")
QUIET = 0.2  # after the expected events arrived, how long an unexpected one has to show up
_SKIPPED_MODULES = ("townsquare.migrations",)  # alembic env scripts run only under alembic


def events(published: list[Delivery], name: str) -> list[Delivery]:
    """The captured deliveries of one event type, in publish order."""
    return [d for d in published if d.event.type == name]


def contract(*covered: type[Event]) -> pytest.MarkDecorator:
    """Mark a test as the contract of these Event classes, for the coverage meta-test."""
    return pytest.mark.contract.with_args(*covered)


def contracts_of(function: Any) -> set[type[Event]]:
    """The Event classes a test function declares it covers with `@contract`."""
    marks = getattr(function, "pytestmark", [])
    return {cls for mark in marks if mark.name == "contract" for cls in mark.args}


def event_classes() -> dict[str, type[Event]]:
    """Every concrete Event subclass in townsquare by wire type (abstract bases have no type)."""
    for info in pkgutil.walk_packages(townsquare.__path__, "townsquare."):
        if not info.name.startswith(_SKIPPED_MODULES):
            importlib.import_module(info.name)
    found: dict[str, type[Event]] = {}
    pending: list[type[Event]] = [Event]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        wire_type = cls.model_fields["type"].default
        if wire_type is PydanticUndefined or not cls.__module__.startswith("townsquare."):
            continue
        assert wire_type not in found, f"{cls} and {found[wire_type]} share type {wire_type}"
        found[wire_type] = cls
    return found


@dataclass(frozen=True)
class Sent:
    """One event as it left for the bus: wire type, rooms, and the payload clients decode."""

    type: str
    rooms: frozenset[str]
    payload: Any


@dataclass(frozen=True)
class Expect:
    """One event the action must publish: its class, exact recipients and exact wire payload."""

    event: type[Event]
    rooms: Iterable[str]
    payload: Mapping[str, Any]

    @property
    def type(self) -> str:
        wire_type = self.event.model_fields["type"].default
        assert isinstance(wire_type, str), f"{self.event} is abstract"
        return wire_type


_inside = contextvars.ContextVar("_inside", default=False)


@contextmanager
def tap(bus: Any) -> Iterator[list[Sent]]:
    """Record every event published on `bus` (by this process) while the block runs.

    The three publish methods are wrapped on the instance; a method calling another (RedisBus's
    `publish_many` goes through `publish_fanouts`) is recorded once, at the outer call.
    """
    seen: list[Sent] = []
    names = ("publish", "publish_many", "publish_fanouts")
    originals = {name: getattr(bus, name) for name in names}
    own = {name: vars(bus)[name] for name in names if name in vars(bus)}  # an outer tap's

    def record(entries: list[Sent], call: Callable[..., Awaitable[Any]]) -> Awaitable[Any]:
        async def run(*args: Any) -> Any:
            if _inside.get():
                return await call(*args)
            seen.extend(entries)
            token = _inside.set(True)
            try:
                return await call(*args)
            finally:
                _inside.reset(token)

        return run

    async def publish(room: str, event: str, data: Any) -> Any:
        return await record([Sent(event, frozenset([room]), _wire(data))], originals["publish"])(
            room, event, data
        )

    async def publish_many(items: Iterable[tuple[str, str, Any]]) -> None:
        items = list(items)
        groups: list[tuple[str, Any, list[str]]] = []
        for room, event, data in items:  # runs sharing one data object are one event
            if groups and groups[-1][0] == event and groups[-1][1] is data:
                groups[-1][2].append(room)
            else:
                groups.append((event, data, [room]))
        sent = [Sent(e, frozenset(rooms), _wire(data)) for e, data, rooms in groups]
        await record(sent, originals["publish_many"])(items)

    async def publish_fanouts(fanouts: Sequence[Any]) -> None:
        sent = [Sent(f.event, frozenset(f.rooms), json.loads(f.args)[1]) for f in fanouts]
        await record(sent, originals["publish_fanouts"])(fanouts)

    bus.publish, bus.publish_many, bus.publish_fanouts = publish, publish_many, publish_fanouts
    try:
        yield seen
    finally:
        for name in names:
            if name in own:
                setattr(bus, name, own[name])
            else:
                delattr(bus, name)


def _wire(data: Any) -> Any:
    """The payload as a client decodes it from the frame."""
    return json.loads(json.dumps(data))


def revalidate(cls: type[Event], payload: Mapping[str, Any]) -> Event:
    """Parse a wire payload with its Event model; it must serialise back to the same payload."""
    by_wire_name = {
        field.serialization_alias or name: name for name, field in cls.model_fields.items()
    }
    data = {by_wire_name.get(key, key): value for key, value in payload.items()}
    event = cls.model_validate({**data, "type": cls.model_fields["type"].default})
    assert event.payload() == payload, f"{cls.__name__} does not round-trip: {payload}"
    return event


async def verify_action(
    client: httpx.AsyncClient,
    action: Callable[[], Awaitable[T]],
    expected: Callable[[T], Sequence[Expect] | Awaitable[Sequence[Expect]]],
) -> T:
    """Run `action`; the events it publishes must be exactly `expected(result)`, no more.

    `expected` may be async, to read views over the API right after the action. Waits (up to
    WAIT) for events that follow the action asynchronously (jobs, timers), then QUIET seconds
    more so that a surplus event is seen too. Returns the action's result.
    """
    classes = event_classes()
    with tap(app_ctx(client).bus) as seen:
        result = await action()
        expecting = expected(result)
        wanted = list(await expecting if inspect.isawaitable(expecting) else expecting)
        counts = Counter(e.type for e in wanted)

        def arrived() -> bool:
            return all(sum(s.type == t for s in seen) >= n for t, n in counts.items())

        with contextlib.suppress(AssertionError):  # the comparison below says what is missing
            await until(arrived)
        await asyncio.sleep(QUIET)
        got = list(seen)
    assert Counter(s.type for s in got) == counts, (
        f"published {[(s.type, sorted(s.rooms)) for s in got]}"
    )
    for sent in got:
        assert sent.type in classes, f"{sent.type} is not an Event subclass"
        revalidate(classes[sent.type], sent.payload)
    unmatched = list(got)
    for want in wanted:
        rooms = frozenset(want.rooms)
        candidates = [s for s in unmatched if s.type == want.type and s.rooms == rooms]
        left = [(s.type, sorted(s.rooms)) for s in unmatched]
        assert candidates, f"no {want.type} to {sorted(rooms)}; left {left}"
        match = next((s for s in candidates if s.payload == want.payload), None)
        assert match is not None, f"{want.type} payload {candidates[0].payload} != {want.payload}"
        unmatched.remove(match)
    return result


def users(*members: Any) -> set[str]:
    """The personal rooms (`user:<id>`) of these members."""
    return {f"user:{member.id}" for member in members}
