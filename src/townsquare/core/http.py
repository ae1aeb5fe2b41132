"""ASGI plumbing for every HTTP request: request id, body size cap, security headers, metrics,
access log."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townsquare.core.errors import AppError, BadRequest, PayloadTooLarge

log = structlog.get_logger("townsquare.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Sent on every response unless the route set its own: no MIME sniffing, no framing by other
# sites (clickjacking), and no full URL (with its ids and cursors) leaked in Referer elsewhere.
_SAFE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
# API answers are data, never a document to render: nothing may load from or frame them.
_API_CSP = b"default-src 'none'; frame-ancestors 'none'"
_PAGE_CSP = b"frame-ancestors 'none'"


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
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        max_body: int,
        max_upload: int,
        streamed_uploads: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.max_upload = max_upload
        # path -> cap for the few upload routes that stream and size-check their own body
        self.streamed_uploads = dict(streamed_uploads or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(8)
        multipart = headers.get("content-type", "").startswith("multipart/")
        streamed = self.streamed_uploads.get(scope["path"]) if multipart else None
        limit = streamed or (self.max_upload if multipart else self.max_body)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_safe_headers(
                    [*message.get("headers", []), (b"x-request-id", request_id.encode())],
                    api=scope["path"].startswith("/api/") and not _is_docs_page(scope["path"]),
                )
            await send(message)

        try:
            body_receive = await _bounded_body(receive, headers, limit, buffer=streamed is None)
            if _has_nul(scope):
                await _send_problem(
                    send_with_id,
                    BadRequest("NUL characters are not allowed", code="invalid_characters"),
                )
            elif body_receive is None:
                await _send_problem(
                    send_with_id, PayloadTooLarge(f"Request bodies may be at most {limit} bytes")
                )
            else:
                await self.app(scope, body_receive, send_with_id)
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


def _is_docs_page(path: str) -> bool:
    """The API's interactive docs are a page (with its own scripts), not an API answer."""
    return path.startswith("/api/v1/docs")


def _with_safe_headers(
    headers: list[tuple[bytes, bytes]], *, api: bool
) -> list[tuple[bytes, bytes]]:
    """Add the safe defaults the response does not set itself.

    API answers also get `Cache-Control: no-store`: they carry tokens and personal data that no
    shared cache or browser history should keep.
    """
    present = {name.lower() for name, _ in headers}
    extra = [(name, value) for name, value in _SAFE_HEADERS if name not in present]
    if b"content-security-policy" not in present:
        extra.append((b"content-security-policy", _API_CSP if api else _PAGE_CSP))
    if api and b"cache-control" not in present:
        extra.append((b"cache-control", b"no-store"))
    return [*headers, *extra]


async def _bounded_body(
    receive: Receive, headers: dict[str, str], limit: int, *, buffer: bool = True
) -> Receive | None:
    """A receive that yields the body, or None when it is over the limit (then it is not read).

    With a Content-Length the check is up front and the body streams through; a chunked body
    is read into memory up to the limit first, since it could otherwise grow without end —
    except for streamed upload routes (`buffer=False`), which count it as they write it.
    """
    declared = headers.get("content-length", "")
    if declared.isdigit():
        return None if int(declared) > limit else receive
    if "transfer-encoding" not in headers or not buffer:
        return receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _has_nul(scope: Scope) -> bool:
    """NUL cannot be stored in PostgreSQL text and is never meaningful in a path or query."""
    raw = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return b"%00" in raw or b"\x00" in raw or b"%00" in query or b"\x00" in query


async def _send_problem(send: Send, error: AppError) -> None:
    payload = json.dumps(error.to_problem()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
