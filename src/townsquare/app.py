"""create_app(): the FastAPI application and its lifespan (database, bus, workers).

The domains it serves are those of `townsquare.wiring.DOMAINS`, listed there explicitly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from townsquare import __version__, webapp
from townsquare.api_docs import install_api_docs
from townsquare.config import Settings
from townsquare.context import AppContext
from townsquare.core import ids, security
from townsquare.core.errors import AppError
from townsquare.core.http import HttpMetrics, RequestMiddleware
from townsquare.core.migrations import schema_is_current
from townsquare.domains.posts import uploads as post_uploads
from townsquare.infra.media import MediaFiles
from townsquare.wiring import create_context, routers

log = structlog.get_logger("townsquare.app")
PROBLEM = "application/problem+json"
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A bare problem+json response for errors raised outside our AppError classes."""
    body = {"type": f"https://townsquare.dev/problems/{code}", "title": detail, "status": status}
    body.update(detail=detail, code=code, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        return JSONResponse(
            exc.to_problem(request.url.path), exc.status, headers=exc.headers, media_type=PROBLEM
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "invalid"),
            }
            for err in exc.errors()
        ]
        if any(err["type"] == "json_invalid" for err in errors):
            return problem(400, "malformed_json", "The request body is not valid JSON")
        return problem(422, "validation_failed", "The request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        # keep what the framework says with it, e.g. `Allow` on a 405 (RFC 9110 requires it)
        return problem(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
        if isinstance(exc, DataError) or sqlstate.startswith("22"):
            # the database refused a value validation let through (encoding, range)
            log.warning("database_refused_value", path=request.url.path, sqlstate=sqlstate)
            return problem(422, "validation_failed", "A value in the request cannot be stored")
        log.exception("database_error", path=request.url.path)
        return problem(503, "unavailable", "The database could not complete the request")

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return problem(500, "internal_error", "Something went wrong on our side")


def _install_ops_routes(app: FastAPI, ctx_holder: dict[str, AppContext]) -> None:
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> Response:
        """The database, its schema and the bus are ready; 503 names what is not."""
        ctx = ctx_holder["ctx"]
        checks = {"database": await ctx.db.ping(), "bus": await ctx.bus.ping()}
        # a database behind (or ahead of) this code's migrations would fail requests
        checks["schema"] = checks["database"] and await schema_is_current(ctx.db.engine)
        for name, probe in ctx.readiness_probes.items():
            checks[name] = await probe()
        ok = all(checks.values())
        body = {"status": "ok" if ok else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus exposition of this process's metrics."""
        return Response(generate_latest(ctx_holder["ctx"].registry), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings | None = None, *, ctx: AppContext | None = None) -> FastAPI:
    """Build the HTTP application; pass a ready AppContext to share one with a gateway."""
    settings = settings or (ctx.settings if ctx else Settings())
    ids.configure(settings.node_id)
    security.configure_hasher(settings.password_hash_profile)
    context = ctx or create_context(settings)
    holder = {"ctx": context}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = ctx is None
        if owned:
            await context.start()
        try:
            yield
        finally:
            if owned:
                await context.close()

    app = FastAPI(
        title="townsquare",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served from the package by install_api_docs (works offline)
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = context
    install_api_docs(app)
    metrics = HttpMetrics(context.registry)
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        max_body=settings.max_request_bytes,
        max_upload=settings.max_avatar_bytes + 64 * 1024,
        streamed_uploads=post_uploads.streamed_limits(settings),
    )
    _install_error_handlers(app)
    _install_ops_routes(app, holder)
    for router in routers():  # every domain's, from wiring.DOMAINS
        app.include_router(router)
    app.mount("/media", MediaFiles(directory=context.media.root, check_dir=False), name="media")
    webapp.install(app)  # last: the client's catch-all must not shadow an API route
    return app
