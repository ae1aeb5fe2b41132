"""Run the API (uvicorn) and, beside it, the real-time gateway in one process."""

from __future__ import annotations

import structlog
import uvicorn

from townsquare.app import create_app
from townsquare.config import Settings
from townsquare.context import AppContext
from townsquare.core.logging import configure_logging

log = structlog.get_logger("townsquare.server")


async def run_server(settings: Settings) -> None:
    """Serve until interrupted; the API and gateway share one AppContext (db, bus)."""
    configure_logging(settings.log_level, json=settings.log_json)
    ctx = AppContext.create(settings)
    await ctx.start()
    app = create_app(ctx=ctx)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    log.info("serving", api=f"http://{settings.host}:{settings.port}")
    try:
        await server.serve()
    finally:
        await ctx.close()
