"""Where domains plug into the gateway: Socket.IO event handlers and room-join policies.

A domain's `handlers.py` registers with the module-level `registry` when it is imported (the
app imports every domain's handlers explicitly, see `townsquare.wiring`):

    @registry.on("chat:message", model=SendMessage, rate=Rule(60, 60))
    async def send(ctx: HandlerContext, data: SendMessage) -> dict[str, Any]: ...

    @registry.room_policy("chat:")
    async def may_join_chat(ctx: HandlerContext, room: str) -> None: ...  # raise to refuse

Handlers stay thin (parse, authorize, call the action, shape the reply), as HTTP routes do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from townsquare.infra.ratelimit import Rule

if TYPE_CHECKING:
    from townsquare.context import AppContext
    from townsquare.realtime.hooks import Caller

HandlerFn = Callable[["HandlerContext", Any], Awaitable[Any]]
PolicyFn = Callable[["HandlerContext", str], Awaitable[None]]
AudienceFn = Callable[["AppContext", int], Awaitable[set[int]]]


class HandlerContext:
    """What a handler may use: the caller, the app's services, and this connection's rooms."""

    __slots__ = ("_conn", "_gateway", "app", "principal")

    def __init__(self, gateway: Any, conn: Any, app: AppContext, principal: Caller) -> None:
        self._gateway = gateway
        self._conn = conn
        self.app = app
        self.principal = principal

    @property
    def user_id(self) -> int:
        return self.principal.user_id

    async def join(self, room: str) -> None:
        """Join a room after its owning domain's policy agrees; raises AppError when refused."""
        await self._gateway.join_room(self._conn, room, ctx=self)

    async def leave(self, room: str) -> None:
        await self._gateway.leave_room(self._conn, room)

    def rooms(self) -> frozenset[str]:
        return frozenset(self._conn.rooms)


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """One registered client-to-server event."""

    event: str
    fn: HandlerFn
    model: type[BaseModel] | None
    rate: Rule | str | None
    state_changing: bool


class HandlerRegistry:
    """Maps Socket.IO event names to handlers and room prefixes to join policies."""

    def __init__(self) -> None:
        self.handlers: dict[str, HandlerSpec] = {}
        self.policies: dict[str, PolicyFn] = {}
        self.audience: AudienceFn | None = None

    def on(
        self,
        event: str,
        *,
        model: type[BaseModel] | None = None,
        rate: Rule | str | None = None,
        state_changing: bool = True,
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Register a handler; `model` validates the first argument, `rate` adds a per-user rule.

        `rate` is a Rule or the name of a configured one (`"chat"`: chat messages per minute).
        """

        def decorate(fn: HandlerFn) -> HandlerFn:
            if event in self.handlers:
                raise ValueError(f"handler for {event!r} already registered")
            self.handlers[event] = HandlerSpec(event, fn, model, rate, state_changing)
            return fn

        return decorate

    def room_policy(self, prefix: str) -> Callable[[PolicyFn], PolicyFn]:
        """Register who may join rooms named `<prefix>...`; raise an AppError to refuse."""

        def decorate(fn: PolicyFn) -> PolicyFn:
            if prefix in self.policies:
                raise ValueError(f"room policy for {prefix!r} already registered")
            self.policies[prefix] = fn
            return fn

        return decorate

    def presence_audience(self, fn: AudienceFn) -> AudienceFn:
        """Register who may hear about a user's presence (the social graph decides)."""
        self.audience = fn
        return fn

    def policy_for(self, room: str) -> PolicyFn | None:
        """The policy of the longest matching prefix; rooms without one cannot be joined."""
        best: str | None = None
        for prefix in self.policies:
            if room.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        return None if best is None else self.policies[best]

    def merge(self, other: HandlerRegistry) -> None:
        for spec in other.handlers.values():
            if spec.event not in self.handlers:
                self.handlers[spec.event] = spec
        for prefix, fn in other.policies.items():
            self.policies.setdefault(prefix, fn)


registry = HandlerRegistry()
