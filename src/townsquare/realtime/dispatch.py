"""Socket.IO on the `/realtime` namespace: packets, client events, handler calls and acks.

Each connection's events run in order on one short-lived worker: rate limits first, then the
handler's model, then (for state-changing events with a `client_id`) de-duplication, then the
handler; the reply goes back as the ack, or as an `error` event when the client asked for none.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import ValidationError

from townsquare.core.errors import AppError, BadRequest, RateLimited
from townsquare.realtime import protocol as p
from townsquare.realtime.connection import NAMESPACE, Connection
from townsquare.realtime.registry import HandlerContext

if TYPE_CHECKING:
    from townsquare.context import AppContext
    from townsquare.infra.ratelimit import RateLimiter, Rule
    from townsquare.realtime.idempotency import IdempotencyStore
    from townsquare.realtime.metrics import GatewayMetrics
    from townsquare.realtime.registry import HandlerRegistry

log = structlog.get_logger("townsquare.realtime.gateway")

MAX_STRIKES = 10
MAX_CLIENT_ID = 128
_ACK_PREFIX = re.compile(r"^2(?:/[^,]{0,200},)?(\d{1,16})\[")


class Dispatch:
    """The gateway's Socket.IO part: decode packets, run client events, answer with acks."""

    ctx: AppContext
    registry: HandlerRegistry
    limiter: RateLimiter
    idempotency: IdempotencyStore
    metrics: GatewayMetrics
    max_payload: int
    events_rule: Rule
    named_rules: dict[str, Rule]

    if TYPE_CHECKING:  # the other parts of the gateway

        def _spawn(self, coro: Any) -> None: ...
        async def _connect(self, conn: Connection, auth: dict[str, Any]) -> None: ...
        def close(self, conn: Connection, reason: str, *, notify: bool = True) -> None: ...
        def disconnect(self, conn: Connection, code: str, message: str) -> None: ...
        def drop_slow(self, conn: Connection) -> None: ...

    def _on_sio(self, conn: Connection, text: str) -> None:
        """Handle one Socket.IO packet: connect to the namespace, an event, or a disconnect."""
        if len(text) > self.max_payload:
            match = _ACK_PREFIX.match(text[:240])
            error = {
                "code": "payload_too_large",
                "message": "The event exceeds the size limit",
                "limit": self.max_payload,
            }
            if match and conn.state == "connected":
                conn.send(
                    p.encode_ack(NAMESPACE, int(match.group(1)), [{"ok": False, "error": error}])
                )
                self._count_strike(conn)
            else:
                self._strike(conn, "payload_too_large", "The event exceeds the size limit")
            return
        try:
            packet = p.decode_sio(text)
        except p.ProtocolError as exc:
            self._strike(conn, "malformed_packet", str(exc))
            return
        if packet.type == p.CONNECT:
            if packet.nsp != NAMESPACE:
                conn.send(p.encode_connect_error(packet.nsp, "Invalid namespace"))
                return
            if conn.state != "open":
                self._strike(conn, "malformed_packet", "Already connected")
                return
            conn.state = "connecting"
            self._spawn(self._connect(conn, packet.data or {}))
            return
        if packet.nsp != NAMESPACE or conn.state != "connected":
            self._strike(conn, "malformed_packet", "Not connected to this namespace")
            return
        if packet.type == p.EVENT:
            self._enqueue(conn, packet.data[0], packet.data[1:], packet.id)
        elif packet.type == p.DISCONNECT:
            self.close(conn, "client namespace disconnect", notify=False)
        elif packet.type in (p.BINARY_EVENT, p.BINARY_ACK):
            conn.skip_binary += packet.attachments
            refusal = {"code": "binary_not_supported", "message": "Binary attachments are refused"}
            if packet.id is not None and packet.type == p.BINARY_EVENT:
                conn.send(p.encode_ack(NAMESPACE, packet.id, [{"ok": False, "error": refusal}]))
                self._count_strike(conn)
            else:
                self._strike(conn, refusal["code"], refusal["message"])
        # ACKs from clients answer nothing we asked; ignore them.

    def _strike(self, conn: Connection, code: str, message: str) -> None:
        """Tell the client what was wrong; a client that keeps at it is disconnected."""
        if conn.state == "connected":
            self._emit_error(conn, code, message)
        self._count_strike(conn)

    def _count_strike(self, conn: Connection) -> None:
        conn.strikes += 1
        if conn.strikes >= MAX_STRIKES or conn.state == "open":
            self.disconnect(conn, "protocol_violation", "Too much malformed input")

    def _emit_error(self, conn: Connection, code: str, message: str, **extra: Any) -> None:
        body = {"code": code, "message": message, **extra}
        conn.send(p.encode_event(NAMESPACE, p.dumps(["error", body])))

    def _enqueue(self, conn: Connection, name: str, args: list[Any], ack_id: int | None) -> None:
        """Queue an event; one short-lived worker per busy connection keeps events in order."""
        if conn.inbox is None:
            conn.inbox = deque()
        if len(conn.inbox) >= 256:
            self.drop_slow(conn)
            return
        conn.inbox.append((name, args, ack_id))
        if conn.worker is None or conn.worker.done():
            conn.worker = asyncio.ensure_future(self._work(conn))

    async def _work(self, conn: Connection) -> None:
        inbox = conn.inbox
        while inbox and not conn.closed:
            name, args, ack_id = inbox.popleft()
            try:
                reply = await self._run(conn, name, args)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gateway_event_failed", event=name)
                reply = {
                    "ok": False,
                    "error": {"code": "internal_error", "message": "Something went wrong"},
                }
            if conn.closed:
                return
            if ack_id is not None:
                conn.send(p.encode_ack(NAMESPACE, ack_id, [reply]))
            elif not reply.get("ok"):
                error = reply["error"]
                self._emit_error(conn, error["code"], error.get("message", ""), event=name)
        conn.inbox = None

    async def _run(self, conn: Connection, name: str, args: list[Any]) -> dict[str, Any]:
        """Rate-limit, validate, de-duplicate and run one client event; return the ack reply."""
        principal = conn.principal
        assert principal is not None
        uid = str(principal.user_id)
        self.metrics.events_in.labels(name if name in self.registry.handlers else "unknown").inc()
        if not await self.limiter.hit(self.events_rule, "rt-events", uid):
            self.metrics.rate_limited.labels("all").inc()
            retry = await self.limiter.retry_after(self.events_rule, "rt-events", uid)
            return _fail(RateLimited("Too many events", retry_after=retry))
        spec = self.registry.handlers.get(name)
        if spec is None:
            return _fail(BadRequest(f"Unknown event {name[:60]!r}", code="unknown_event"))
        rule = self.named_rules[spec.rate] if isinstance(spec.rate, str) else spec.rate
        if rule is not None and not await self.limiter.hit(rule, "rt", name, uid):
            self.metrics.rate_limited.labels(name).inc()
            retry = await self.limiter.retry_after(rule, "rt", name, uid)
            return _fail(RateLimited(f"Too many {name} events", retry_after=retry))
        payload = args[0] if args else None
        data: Any = payload
        if spec.model is not None:
            try:
                data = spec.model.model_validate(payload if payload is not None else {})
            except ValidationError as exc:
                errors = [
                    {"loc": [str(x) for x in e["loc"]], "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False, include_context=False)
                ]
                return _fail(BadRequest("Invalid payload", code="validation_failed", errors=errors))
        client_id = payload.get("client_id") if isinstance(payload, dict) else None
        if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 128):
            return _fail(BadRequest("client_id must be a short string", code="validation_failed"))
        ctx = HandlerContext(self, conn, self.ctx, principal)
        if client_id is None or not spec.state_changing:
            return await self._call(spec.fn, ctx, data)
        key = f"{uid}:{name}:{client_id}"
        state, stored = await self.idempotency.begin(key)
        if state == "done":
            return dict(stored)
        if state == "pending":
            return _fail(AppError("Still processing this client_id", code="in_progress"))
        try:
            reply = await self._call(spec.fn, ctx, data)
        except BaseException:
            await self.idempotency.abort(key)
            raise
        await self.idempotency.finish(key, reply)
        return reply

    @staticmethod
    async def _call(fn: Any, ctx: HandlerContext, data: Any) -> dict[str, Any]:
        try:
            result = await fn(ctx, data)
        except AppError as exc:
            return _fail(exc)
        return {"ok": True, "data": result}


def _fail(exc: AppError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.detail}
    if exc.errors:
        error["errors"] = exc.errors
    error.update(exc.extra)
    return {"ok": False, "error": error}
