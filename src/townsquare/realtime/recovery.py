"""Recovery by per-user offsets: replay a user room's history after a reconnect or a bus resync.

Each durable event in a user's room has an increasing offset; a connection remembers the last
it saw (`last_key`), buffers live events while a replay is under way, and skips what it has seen.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from townsquare.infra.bus import parse_offset
from townsquare.realtime import protocol as p
from townsquare.realtime.connection import NAMESPACE, Connection
from townsquare.realtime.rooms import ROOM_LEFT_EVENT, evicted_room

if TYPE_CHECKING:
    from townsquare.context import AppContext
    from townsquare.realtime.metrics import GatewayMetrics

log = structlog.get_logger("townsquare.realtime.gateway")


def now_ms() -> int:
    return int(time.time() * 1000)


class Recovery:
    """The gateway's part that replays missed events from the bus's per-room history."""

    ctx: AppContext
    metrics: GatewayMetrics
    rooms: dict[str, set[Connection]]

    if TYPE_CHECKING:  # the other parts of the gateway

        def _evict(self, conn: Connection, room: str) -> None: ...

    async def _recover(self, conn: Connection, room: str, last_offset: str) -> None:
        """Replay what the user's room got after `last_offset`, or say that it cannot."""
        try:
            missed = await self.ctx.bus.history(room, last_offset)
        except Exception:
            log.exception("gateway_history_failed")
            missed = None
        if conn.closed:
            return
        key = parse_offset(last_offset)
        if key is not None and key[0] > now_ms() + 60_000:
            key = None  # an offset from the future would silence every live event after it
        if missed is None or key is None:
            self.metrics.recovery.labels("miss").inc()
            conn.send(
                p.encode_event(
                    NAMESPACE, p.dumps(["recovery:failed", {"last_offset": last_offset}])
                )
            )
        else:
            self.metrics.recovery.labels("hit").inc()
            conn.last_key = key
            for msg in missed:
                offset = parse_offset(msg.offset or "")
                if offset is not None and offset > conn.last_key:
                    conn.last_key = offset
                    conn.send(p.encode_event(NAMESPACE, msg.args))
        self._release(conn)

    async def _resync(self, room: str) -> None:
        """A room's bus subscription was restored: replay what its members may have missed."""
        if not room.startswith("user:"):
            return  # live-only rooms have nothing to replay
        for conn in list(self.rooms.get(room, ())):
            if conn.state != "connected" or conn.buffer is not None:
                continue
            if conn.last_key == (0, 0):
                # nothing durable seen yet, so no offset to resume from: let the client refetch
                conn.send(
                    p.encode_event(NAMESPACE, p.dumps(["recovery:failed", {"last_offset": None}]))
                )
                continue
            after = f"{conn.last_key[0]}-{conn.last_key[1]}"
            missed = await self.ctx.bus.history(room, after)
            if conn.closed:
                continue
            if missed is None:
                self.metrics.recovery.labels("miss").inc()
                conn.send(
                    p.encode_event(NAMESPACE, p.dumps(["recovery:failed", {"last_offset": after}]))
                )
                continue
            self.metrics.recovery.labels("hit").inc()
            for msg in missed:
                if msg.event == ROOM_LEFT_EVENT:
                    # an eviction this node missed while unsubscribed still has to happen
                    key = parse_offset(msg.offset or "")
                    evicted = evicted_room(msg)
                    if key is not None and key > conn.last_key and evicted is not None:
                        self._evict(conn, evicted)
                text = p.encode_event(NAMESPACE, msg.args)
                conn.deliver(msg, p.ws_text(text), text)

    def _release(self, conn: Connection) -> None:
        """Flush live events that arrived while the handshake or recovery was in progress."""
        buffered, conn.buffer = conn.buffer or [], None
        for msg in buffered:
            text = p.encode_event(NAMESPACE, msg.args)
            conn.deliver(msg, p.ws_text(text), text)
