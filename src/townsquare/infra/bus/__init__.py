"""The event bus between domain actions and gateways: in-process, or Redis in cluster mode.

Topics are room names. A gateway node subscribes only to the rooms it has local members for, so
with Redis (one pub/sub channel per room) each message reaches only the nodes that need it.

Rooms named `user:<id>` are durable: every event gets a per-user offset and is kept in a history
window (a list in memory, a Redis Stream in cluster mode) so a reconnecting client can recover
what it missed. Other rooms (streams, stories, benchmarks) are live-only.

A message travels pre-serialised: `args` is the JSON array of the Socket.IO EVENT packet
(`["event", data]`, plus `{"offset": ...}` for durable rooms), so a gateway frames it once for
every recipient without decoding it. One event addressed to many rooms (a post to every online
follower) is serialised once (`Fanout`); each durable room only splices its own offset in.

`base` holds the message shapes and the `Bus` interface, `memory` and `redis` the two buses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from townsquare.infra.bus.base import (
    DURABLE_PREFIX,
    Bus,
    BusMessage,
    Fanout,
    Handler,
    event_args,
    fanouts_of,
    is_durable,
    parse_offset,
    publish_deliveries,
    with_offset,
)
from townsquare.infra.bus.memory import InProcessBus, OffsetClock
from townsquare.infra.bus.redis import ROOMS_PER_SCRIPT, RedisBus

if TYPE_CHECKING:
    from townsquare.config import Settings

__all__ = [
    "DURABLE_PREFIX",
    "ROOMS_PER_SCRIPT",
    "Bus",
    "BusMessage",
    "Fanout",
    "Handler",
    "InProcessBus",
    "OffsetClock",
    "RedisBus",
    "event_args",
    "fanouts_of",
    "is_durable",
    "make_bus",
    "make_bus_for",
    "parse_offset",
    "publish_deliveries",
    "with_offset",
]


def make_bus_for(settings: Settings) -> Bus:
    """The bus a process should use: Redis keys under the namespace, the configured window."""
    return make_bus(
        settings.redis_url,
        prefix=f"{settings.redis_namespace}:",
        history_max_events=settings.gateway_history_max_events,
        history_max_age_seconds=settings.gateway_history_max_age_seconds,
    )


def make_bus(
    redis_url: str | None,
    *,
    prefix: str = "ts:",
    history_max_events: int = 500,
    history_max_age_seconds: int = 86400,
) -> Bus:
    """Redis when a URL is configured, else the in-process bus."""
    if redis_url:
        return RedisBus(
            redis_url,
            prefix=prefix,
            history_max_events=history_max_events,
            history_max_age_seconds=history_max_age_seconds,
        )
    return InProcessBus(
        history_max_events=history_max_events, history_max_age_seconds=history_max_age_seconds
    )
