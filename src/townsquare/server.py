"""Run the API (uvicorn) and, beside it, the real-time gateway in one process."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import structlog
import uvicorn

from townsquare.app import create_app
from townsquare.config import Settings
from townsquare.core.logging import configure_logging
from townsquare.wiring import create_context

log = structlog.get_logger("townsquare.server")


def tune_interpreter() -> None:
    """Hand the GIL over sooner: aiosqlite's worker thread otherwise waits up to 5 ms per query.

    Measured with bench/api_baseline.py; see docs/decisions/0003-gil-switch-interval.md.
    """
    sys.setswitchinterval(0.0002)


async def run_server(settings: Settings, *, with_gateway: bool = True) -> None:
    """Serve until interrupted; the API and gateway share one AppContext (db, bus)."""
    from townsquare.realtime.gateway import Gateway

    configure_logging(settings.log_level, json=settings.log_json)
    tune_interpreter()
    ctx = create_context(settings)
    await ctx.start()
    app = create_app(ctx=ctx)
    gateway = Gateway(ctx) if with_gateway else None
    if gateway is not None:
        await gateway.start(settings.host, settings.gateway_port)
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
    log.info(
        "serving",
        api=f"http://{settings.host}:{settings.port}",
        gateway=f"ws://{settings.host}:{settings.gateway_port}/socket.io/" if gateway else None,
    )
    try:
        await server.serve()
    finally:
        if gateway is not None:
            await gateway.stop()
        await ctx.close()


async def run_gateway(settings: Settings) -> None:
    """Serve only the real-time gateway (cluster mode: beside API processes, sharing Redis)."""
    import asyncio
    import signal

    from townsquare.realtime.gateway import Gateway

    configure_logging(settings.log_level, json=settings.log_json)
    ctx = create_context(settings)
    await ctx.start()
    gateway = Gateway(ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await gateway.start(settings.host, settings.gateway_port)
        await stop.wait()
    finally:
        await gateway.stop()
        await ctx.close()


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Consume the Redis job queue and run the schedules (cluster mode) until stopped."""
    import signal

    from townsquare.core import ids

    if not settings.cluster:
        raise RuntimeError(
            "townsquare worker needs TOWNSQUARE_REDIS_URL; embedded mode runs jobs inside serve"
        )
    configure_logging(settings.log_level, json=settings.log_json)
    ids.configure(settings.node_id)
    ctx = create_context(settings)
    await ctx.start()
    stop = stop or asyncio.Event()
    if not ctx.jobs.consuming:  # `jobs_run_inline` may already have started it in start()
        await ctx.jobs.start(ctx, consume=True, schedule=settings.jobs_schedules_enabled)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    log.info("worker_started", concurrency=settings.jobs_concurrency)
    try:
        await stop.wait()
    finally:
        await ctx.close()
