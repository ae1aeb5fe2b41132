"""ASGI plumbing for every HTTP request: request id, body size cap, metrics, access log."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townsquare.core.errors import PayloadTooLarge

log = structlog.get_logger("townsquare.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class HttpMetrics:
    """Request counts and latency per route template, in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "townsquare_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "townsquare_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )


class RequestMiddleware:
    """Pure ASGI (no per-request task): tags, caps, measures and logs each HTTP request."""

    def __init__(
        self, app: ASGIApp, *, metrics: HttpMetrics, max_body: int, max_upload: int
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(8)
        limit = (
            self.max_upload
            if headers.get("content-type", "").startswith("multipart/")
            else self.max_body
        )
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, _capped(receive, headers, limit), send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _capped(receive: Receive, headers: dict[str, str], limit: int) -> Receive:
    """Refuse bodies over the limit, by Content-Length up front or by counting chunks."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:

        async def refuse() -> Message:
            raise PayloadTooLarge(f"Request bodies may be at most {limit} bytes")

        return refuse
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"Request bodies may be at most {limit} bytes")
        return message

    return counting
