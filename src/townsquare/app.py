"""create_app(): the FastAPI application and its lifespan (database, bus, workers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
from townsquare.config import Settings
from townsquare.context import AppContext
from townsquare.core import ids, security
from townsquare.core.errors import AppError
from townsquare.core.http import HttpMetrics, RequestMiddleware
from townsquare.domains.accounts.router import router as accounts_router
from townsquare.domains.chat.router import router as chat_router
from townsquare.domains.feed.router import router as feed_router
from townsquare.domains.notifications.router import router as notifications_router
from townsquare.domains.posts import uploads as post_uploads
from townsquare.domains.posts.router import router as posts_router
from townsquare.domains.search.router import router as search_router
from townsquare.domains.social.router import router as social_router
from townsquare.infra.jobs_router import router as jobs_router
from townsquare.infra.media import MediaFiles
from townsquare.realtime.router import router as realtime_router

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


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    """A bare problem+json response for errors raised outside our AppError classes."""
    body = {"type": f"https://townsquare.dev/problems/{code}", "title": detail, "status": status}
    body.update(detail=detail, code=code, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


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
        return problem(exc.status_code, code, str(exc.detail))

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
        """The database and the bus answer; 503 names what does not."""
        ctx = ctx_holder["ctx"]
        checks = {"database": await ctx.db.ping(), "bus": await ctx.bus.ping()}
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
    context = ctx or AppContext.create(settings)
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
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = context
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
    app.include_router(accounts_router)
    app.include_router(social_router)
    app.include_router(posts_router)
    app.include_router(feed_router)
    app.include_router(search_router)
    app.include_router(realtime_router)
    app.include_router(jobs_router)
    app.include_router(notifications_router)
    app.include_router(chat_router)
    app.mount("/media", MediaFiles(directory=context.media.root, check_dir=False), name="media")
    webapp.install(app)  # last: the client's catch-all must not shadow an API route
    return app
