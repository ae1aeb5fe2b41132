"""Gateway test tools: waiting for async state, a domain-free handler registry, the JS client."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import socketio

from townsquare.core.errors import Forbidden
from townsquare.realtime import Gateway
from townsquare.realtime.registry import HandlerContext, HandlerRegistry
from townsquare.wiring import handler_registry

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "e2e" / "js" / "sio_driver.js"
WAIT = 10.0  # how long to wait for something that should happen; never a pass condition


async def until(condition: Callable[[], Any]) -> None:
    """Wait for a state the system reaches asynchronously; fail after WAIT seconds."""

    async def poll() -> None:
        while True:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), WAIT)
    except TimeoutError:
        raise AssertionError("condition never became true") from None


def make_registry() -> HandlerRegistry:
    """Handlers and a room policy that exercise the gateway without any domain, plus presence's
    `presence:activity` (every connection reports to presence, as in a real deployment)."""
    reg = HandlerRegistry()
    reg.handlers["presence:activity"] = handler_registry().handlers["presence:activity"]
    applied: list[Any] = []

    @reg.on("test:echo", state_changing=False)
    async def echo(ctx: HandlerContext, data: Any) -> Any:
        return data

    @reg.on("test:apply")
    async def apply(ctx: HandlerContext, data: Any) -> Any:
        applied.append(data)
        return {"applied": len(applied)}

    @reg.on("test:chat", rate="chat")
    async def chat(ctx: HandlerContext, data: Any) -> Any:
        return {"sent": True}

    @reg.on("test:join", state_changing=False)
    async def join(ctx: HandlerContext, data: Any) -> Any:
        await ctx.join(str(data["room"]))
        return {"rooms": sorted(ctx.rooms())}

    @reg.on("test:leave", state_changing=False)
    async def leave(ctx: HandlerContext, data: Any) -> Any:
        await ctx.leave(str(data["room"]))
        return {"rooms": sorted(ctx.rooms())}

    # (user id, room) pairs the policy refuses, as a domain would after removing a member
    denied: set[tuple[int, str]] = set()
    # while set and not released, the policy waits here after reading (a slow answer)
    gate: list[asyncio.Event] = []
    waiting: list[str] = []

    @reg.room_policy("test:")
    async def policy(ctx: HandlerContext, room: str) -> None:
        member = (ctx.user_id, room) not in denied  # read first, answer later, like a query
        if gate:
            waiting.append(room)
            await gate[0].wait()
        if room.startswith("test:forbidden"):
            raise Forbidden("Not for you", code="forbidden")
        if not member:
            raise Forbidden("Join the room first", code="not_member")

    reg.applied = applied  # type: ignore[attr-defined]
    reg.denied = denied  # type: ignore[attr-defined]
    reg.gate = gate  # type: ignore[attr-defined]
    reg.waiting = waiting  # type: ignore[attr-defined]
    return reg


GatewayFactory = Callable[..., Awaitable[tuple[Gateway, str]]]


class JsClient:
    """The official socket.io-client in a Node process, driven over stdin/stdout."""

    _ids = itertools.count(1)

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []
        self._cursor = 0

    async def send(self, cmd: str, **kw: Any) -> int:
        ident = next(self._ids)
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, "id": ident, **kw}) + "\n").encode())
        await self.proc.stdin.drain()
        return ident

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"node client exited; last seen {self.seen[-20:]}")
        obs: dict[str, Any] = json.loads(line)
        self.seen.append(obs)
        return obs

    async def expect(
        self, predicate: Callable[[dict[str, Any]], bool], *, anywhere: bool = False
    ) -> dict[str, Any]:
        """The next observation (from the cursor on) that matches; fails after WAIT seconds.

        `anywhere` also looks at observations before the cursor (events that overtook an ack).
        """
        if anywhere:
            for obs in self.seen:
                if predicate(obs):
                    return obs

        async def scan() -> dict[str, Any]:
            while True:
                while self._cursor < len(self.seen):
                    obs = self.seen[self._cursor]
                    self._cursor += 1
                    if predicate(obs):
                        return obs
                await self._read()

        try:
            return await asyncio.wait_for(scan(), WAIT)
        except TimeoutError:
            tail = self.seen[-20:]
            raise AssertionError(f"expected observation never came; last seen {tail}") from None

    async def expect_type(self, kind: str) -> dict[str, Any]:
        return await self.expect(lambda o: o["type"] == kind)

    async def expect_event(self, name: str) -> dict[str, Any]:
        return await self.expect(lambda o: o["type"] == "event" and o["event"] == name)

    async def emit(self, event: str, *args: Any) -> Any:
        ident = await self.send("emit", event=event, args=list(args), ack=True)
        obs = await self.expect(
            lambda o: o.get("id") == ident and o["type"] in ("ack", "ack_timeout")
        )
        assert obs["type"] == "ack", obs
        return obs["reply"]

    async def close(self) -> None:
        if self.proc.returncode is None:
            with_timeout = asyncio.wait_for(self.proc.wait(), 5)
            try:
                await self.send("close")
                await with_timeout
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self.proc.kill()
                await self.proc.wait()


JsFactory = Callable[..., AbstractAsyncContextManager[JsClient]]


class Device:
    """One python-socketio client of a user, recording the events it listens for."""

    def __init__(self, events: Iterable[str]) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        for name in events:
            self.sio.on(name, self._recorder(name), namespace="/realtime")

    def _recorder(self, name: str) -> Any:
        async def record(data: Any, *meta: Any) -> None:
            self.events.append((name, data))

        return record

    async def connect(self, url: str, member: Any) -> Device:
        await self.sio.connect(
            url,
            namespaces=["/realtime"],
            auth={"token": member.access_token},
            transports=["websocket"],
            wait_timeout=WAIT,
        )
        return self

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace="/realtime", timeout=WAIT)

    async def next(self, name: str, where: Any = None) -> Any:
        async def wait() -> Any:
            while True:
                for i, (seen, data) in enumerate(self.events):
                    if seen == name and (where is None or where(data)):
                        del self.events[i]
                        return data
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(wait(), WAIT)

    def named(self, name: str) -> list[Any]:
        return [d for n, d in self.events if n == name]

    async def close(self) -> None:
        await self.sio.disconnect()
