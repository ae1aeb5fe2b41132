"""The realtime half of the SDK: a Socket.IO connection that survives network trouble.

- Reconnects with exponential backoff and full jitter (a random wait in [0, min(30, 2^n)] s).
- Sends made while offline wait in a queue and are replayed in order after reconnecting, each
  with its idempotency key (`client_id`), so the server applies each exactly once.
- Remembers the offset of the last event received and hands it to the server on reconnect, so
  missed events arrive in order; `recovery:failed` tells the application to refetch over HTTP.
- Reports its state (`connecting`, `connected`, `reconnecting`, `closed`) to a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import socketio
import structlog

from townsquare.client.api import ApiError

log = structlog.get_logger(__name__)

NAMESPACE = "/realtime"
FATAL = frozenset(
    {"account_suspended", "account_banned", "session_revoked", "protocol_violation", "unauthorized"}
)
TOKEN_PROBLEMS = frozenset({"token_expired", "token_invalid", "token_missing"})
StateCallback = Callable[[str, dict[str, Any]], Any]
Handler = Callable[..., Any]


def backoff_delay(
    attempt: int, rng: random.Random, *, base: float = 1.0, cap: float = 30.0
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt counts from 0)."""
    return rng.uniform(0.0, min(cap, base * (2 ** min(attempt, 30))))


@dataclass
class _Send:
    event: str
    data: Any
    future: asyncio.Future[Any] = field(repr=False)


class RealtimeClient:
    """One logical connection to the gateway's `/realtime` namespace."""

    def __init__(
        self,
        url: str,
        *,
        token: Callable[[], Awaitable[str]],
        refresh: Callable[[], Awaitable[str]] | None = None,
        on_state: StateCallback | None = None,
        transports: list[str] | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        ack_timeout: float = 15.0,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self._refresh = refresh
        self._on_state = on_state
        self._transports = transports
        self._base = backoff_base
        self._cap = backoff_cap
        self._ack_timeout = ack_timeout
        self._rng = rng or random.Random()
        self._handlers: dict[str, list[Handler]] = {}
        self._queue: deque[_Send] = deque()
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._first = asyncio.Event()
        self._sio: socketio.AsyncClient | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._closing = False
        self._fatal: ApiError | None = None
        self._server_reason: str | None = None
        self.state = "idle"
        self.last_offset: str | None = None

    # public API ------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler) -> None:
        """Call `handler(data)` for each `event` (also `recovery:failed`, `error`)."""
        self._handlers.setdefault(event, []).append(handler)

    async def connect(self, *, wait: bool = True) -> None:
        """Start connecting (and reconnecting for as long as the client is open)."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="realtime-supervisor")
        if wait:
            await self._first.wait()
            if self._fatal is not None:
                raise self._fatal

    async def emit(self, event: str, data: Any = None, *, queue: bool = True) -> Any:
        """Send an event and return the ack's `data`; raise ApiError when the server refuses.

        Object payloads get a `client_id` (kept across retries) so a resend is applied once.
        With `queue=False` (typing indicators, say) a send while offline is dropped instead.
        """
        if self._fatal is not None:
            raise self._fatal
        if isinstance(data, dict) and "client_id" not in data:
            data = {**data, "client_id": uuid.uuid4().hex}
        if not queue and self.state != "connected":
            return None
        send = _Send(event, data, asyncio.get_running_loop().create_future())
        self._queue.append(send)
        self._wake.set()
        return await send.future

    async def close(self) -> None:
        """Disconnect for good; queued sends fail with `closed`."""
        self._closing = True
        self._lost.set()
        self._wake.set()
        for task in (self._sender, self._supervisor):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._sio is not None:
            with contextlib.suppress(Exception):
                await self._sio.disconnect()
        self._fail_queue(ApiError("closed", "The realtime client was closed"))
        self._set_state("closed", {})

    # connection management -------------------------------------------------------------------

    def _set_state(self, state: str, info: dict[str, Any]) -> None:
        if state == self.state:
            return
        self.state = state
        if self._on_state is not None:
            try:
                self._on_state(state, info)
            except Exception:
                log.exception("realtime_state_callback_failed")

    async def _supervise(self) -> None:
        attempt = 0
        refreshed = False
        while not self._closing:
            self._set_state(
                "connecting" if not self._first.is_set() else "reconnecting", {"attempt": attempt}
            )
            try:
                await self._open()
            except ApiError as exc:
                if exc.code in FATAL:
                    self._give_up(exc)
                    return
                if exc.code in TOKEN_PROBLEMS:
                    if self._refresh is None or refreshed:
                        self._give_up(exc)  # only a new sign-in can help
                        return
                    try:
                        await self._refresh()
                    except ApiError as refresh_exc:
                        self._give_up(refresh_exc)
                        return
                    refreshed = True
                    continue
                await self._backoff(attempt, exc.code)
                attempt += 1
                continue
            attempt = 0
            refreshed = False
            self._set_state("connected", {"last_offset": self.last_offset})
            self._first.set()
            self._sender = asyncio.create_task(self._send_loop(), name="realtime-sender")
            await self._lost.wait()
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            if self._closing:
                return
            reason = self._server_reason
            if reason in FATAL:
                self._give_up(ApiError(reason or "closed", "The server ended the connection"))
                return
            if reason == "token_expired" and self._refresh is not None:
                with contextlib.suppress(ApiError):
                    await self._refresh()
            await self._backoff(attempt, reason or "transport_closed")
            attempt += 1

    async def _backoff(self, attempt: int, reason: str) -> None:
        delay = backoff_delay(attempt, self._rng, base=self._base, cap=self._cap)
        self._set_state("reconnecting", {"attempt": attempt, "delay": delay, "reason": reason})
        await asyncio.sleep(delay)

    def _give_up(self, exc: ApiError) -> None:
        self._fatal = exc
        self._fail_queue(exc)
        self._set_state("closed", {"reason": exc.code})
        self._first.set()

    def _fail_queue(self, exc: ApiError) -> None:
        while self._queue:
            send = self._queue.popleft()
            if not send.future.done():
                send.future.set_exception(exc)

    async def _open(self) -> None:
        """One connection attempt; raises ApiError with the server's reason when refused."""
        if self._sio is not None:
            with contextlib.suppress(Exception):
                await self._sio.disconnect()
        sio = socketio.AsyncClient(reconnection=False)
        self._sio = sio
        self._lost = asyncio.Event()
        self._server_reason = None
        refused: dict[str, Any] = {}
        token = await self._token()

        async def connect_error(data: Any) -> None:
            if isinstance(data, dict):
                refused.update(data.get("data") or data)

        async def disconnect(*_: Any) -> None:
            if sio is self._sio:
                self._lost.set()

        async def any_event(event: str, *args: Any) -> None:
            await self._dispatch(event, list(args))

        sio.on("connect_error", connect_error, namespace=NAMESPACE)
        sio.on("disconnect", disconnect, namespace=NAMESPACE)
        sio.on("*", any_event, namespace=NAMESPACE)

        auth: dict[str, Any] = {"token": token}
        if self.last_offset is not None:
            auth["last_offset"] = self.last_offset
        try:
            await sio.connect(
                self.url,
                namespaces=[NAMESPACE],
                auth=auth,
                transports=self._transports,
                wait_timeout=10,
            )
        except socketio.exceptions.ConnectionError as exc:
            code = str(refused.get("code") or "connect_failed")
            raise ApiError(code, str(refused.get("message") or exc)) from exc

    async def _dispatch(self, event: str, args: list[Any]) -> None:
        if args and isinstance(args[-1], dict) and set(args[-1]) == {"offset"}:
            self.last_offset = str(args.pop()["offset"])
        if event == "error" and args and isinstance(args[0], dict):
            self._server_reason = str(args[0].get("code"))
        if event == "recovery:failed":
            self.last_offset = None
        for handler in self._handlers.get(event, ()):
            try:
                result = handler(*args)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("realtime_handler_failed", event=event)

    async def _send_loop(self) -> None:
        """Send queued events in order; one that fails on a dropped link stays for the next."""
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            send = self._queue[0]
            sio = self._sio
            if sio is None or self._lost.is_set():
                return
            try:
                reply = await sio.call(
                    send.event, send.data, namespace=NAMESPACE, timeout=self._ack_timeout
                )
            except (
                socketio.exceptions.TimeoutError,
                socketio.exceptions.BadNamespaceError,
                socketio.exceptions.DisconnectedError,
            ):
                return  # the link went away: keep the send, replay it after reconnecting
            self._queue.popleft()
            if send.future.done():
                continue
            if isinstance(reply, dict) and reply.get("ok") is False:
                error = reply.get("error") or {}
                send.future.set_exception(
                    ApiError(str(error.get("code")), str(error.get("message", "")), body=error)
                )
            elif isinstance(reply, dict) and reply.get("ok") is True:
                send.future.set_result(reply.get("data"))
            else:
                send.future.set_result(reply)
