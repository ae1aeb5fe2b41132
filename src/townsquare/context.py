"""The shared services one process holds: settings, database, bus, rate limiter, media."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request
from prometheus_client import CollectorRegistry

from townsquare.config import Settings
from townsquare.core.db import Database
from townsquare.core.events import Delivery
from townsquare.infra.bus import Bus, make_bus_for, publish_deliveries
from townsquare.infra.jobs import JobQueue, MemoryJobQueue, QueueOptions, attach, make_queue
from townsquare.infra.media import LocalMediaStore
from townsquare.infra.ratelimit import RateLimiter

if TYPE_CHECKING:
    from townsquare.realtime.hooks import GatewayHooks


@dataclass
class AppContext:
    """Built once per process by the app's lifespan; routes reach it through `get_ctx`."""

    settings: Settings
    db: Database
    bus: Bus
    limiter: RateLimiter
    media: LocalMediaStore
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    jwt_secret: str = ""
    readiness_probes: dict[str, Callable[[], Awaitable[bool]]] = field(default_factory=dict)
    jobs: JobQueue = field(default_factory=MemoryJobQueue)
    # what a gateway needs of the domains (authentication, presence, handlers); see wiring.py
    gateway_hooks: GatewayHooks | None = None

    @classmethod
    def create(cls, settings: Settings, *, gateway_hooks: GatewayHooks | None = None) -> AppContext:
        """Wire the embedded or cluster adapters the settings ask for.

        The domains come in from above as `gateway_hooks` (`wiring.create_context` passes them):
        this module sits below the domains and imports none of them.
        """
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        bus = make_bus_for(settings)

        async def publish(deliveries: list[Delivery]) -> None:
            await publish_deliveries(bus, deliveries)

        db = Database(settings.resolved_database_url, publisher=publish)
        jobs = make_queue(
            settings.redis_url,
            namespace=settings.redis_namespace,
            options=QueueOptions(
                concurrency=settings.jobs_concurrency,
                retry_base_seconds=settings.jobs_retry_base_seconds,
                retry_max_seconds=settings.jobs_retry_max_seconds,
                poll_seconds=settings.jobs_poll_seconds,
            ),
        )
        attach(db.engine, jobs)
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            limiter=RateLimiter(settings.redis_url, namespace=settings.redis_namespace),
            media=LocalMediaStore(settings.media_dir),
            jwt_secret=settings.resolved_jwt_secret(),
            jobs=jobs,
            gateway_hooks=gateway_hooks,
        )

    async def start(self) -> None:
        await self.bus.start()
        inline = self.settings.jobs_inline
        await self.jobs.start(
            self, consume=inline, schedule=inline and self.settings.jobs_schedules_enabled
        )

    async def close(self) -> None:
        await self.jobs.close()
        await self.bus.close()
        await self.db.dispose()


async def get_ctx(request: Request) -> AppContext:
    """FastAPI dependency: the process's AppContext."""
    ctx: AppContext = request.app.state.ctx
    return ctx
