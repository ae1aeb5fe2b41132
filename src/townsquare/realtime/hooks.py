"""What the gateway needs to know about users, handed over by the app (realtime imports no domain).

The app builds one `GatewayHooks` (see `townsquare.wiring`) and puts it on the AppContext, so a
`Gateway(ctx)` authenticates handshakes with the accounts domain and reports connections to the
presence domain without importing either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from townsquare.context import AppContext
    from townsquare.realtime.registry import HandlerRegistry


class Caller(Protocol):
    """An authenticated user as the gateway sees one (the accounts domain's Principal is one)."""

    @property
    def user_id(self) -> int: ...

    @property
    def session_id(self) -> int: ...


# check an access token's session and account; raise an AppError to refuse the handshake
Authenticate = Callable[["AppContext", str], Awaitable[Caller]]


class ConnectionListener(Protocol):
    """Told as users' connections come, stay and go; presence turns that into status."""

    async def connected(self, user_id: int, conn_key: str) -> None: ...

    async def disconnected(self, user_id: int, conn_key: str) -> None: ...

    async def count(self, user_id: int) -> int:
        """The user's live connections on every node (for the per-user connection limit)."""
        ...

    async def heartbeat(self, conns: list[tuple[int, str]]) -> None:
        """Keep this node's connections alive (cluster presence ages out a crashed node's)."""
        ...

    async def sweep(self, local_users: list[int]) -> None:
        """Re-check this node's users (activity turns idle) and users of crashed nodes."""
        ...


@dataclass(frozen=True, slots=True)
class GatewayHooks:
    """The domains' side of the gateway: authentication, connection reports, event handlers."""

    authenticate: Authenticate
    connections: Callable[[AppContext], ConnectionListener]
    registry: HandlerRegistry
