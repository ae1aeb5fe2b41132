"""Every domain, listed once in DOMAINS: the app takes routers, Socket.IO handlers and jobs from it.

The imports are plain and static (no scanning of packages), so what runs is what is listed here
and the import contracts can see it. Importing a `handlers` or `jobs` module registers its
events and jobs; adding a domain is one line in DOMAINS (docs/decisions/0106).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from fastapi import APIRouter

from townsquare.config import Settings
from townsquare.context import AppContext
from townsquare.domains.accounts import jobs as accounts_jobs
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts import router as accounts_router
from townsquare.domains.admin import router as admin_router
from townsquare.domains.chat import handlers as chat_handlers
from townsquare.domains.chat import jobs as chat_jobs
from townsquare.domains.chat import router as chat_router
from townsquare.domains.feed import handlers as feed_handlers
from townsquare.domains.feed import router as feed_router
from townsquare.domains.notifications import handlers as notifications_handlers
from townsquare.domains.notifications import jobs as notifications_jobs
from townsquare.domains.notifications import router as notifications_router
from townsquare.domains.posts import jobs as posts_jobs
from townsquare.domains.posts import router as posts_router
from townsquare.domains.presence import handlers as presence_handlers
from townsquare.domains.presence import router as presence_router
from townsquare.domains.search import router as search_router
from townsquare.domains.social import handlers as social_handlers
from townsquare.domains.social import router as social_router
from townsquare.infra import jobs as infra_jobs
from townsquare.realtime.hooks import GatewayHooks
from townsquare.realtime.registry import HandlerRegistry
from townsquare.realtime.registry import registry as socket_registry

if TYPE_CHECKING:
    from townsquare.domains.accounts.policy import Principal


@dataclass(frozen=True, slots=True)
class Domain:
    """One domain's entry points: its HTTP router, Socket.IO handlers and background jobs."""

    name: str
    router: APIRouter | None = None
    handlers: ModuleType | None = None
    jobs: ModuleType | None = None


# in the order the app includes the routers
DOMAINS: tuple[Domain, ...] = (
    Domain("accounts", accounts_router.router, jobs=accounts_jobs),
    Domain("social", social_router.router, handlers=social_handlers),
    Domain("posts", posts_router.router, jobs=posts_jobs),
    Domain("feed", feed_router.router, handlers=feed_handlers),
    Domain("search", search_router.router),
    Domain("presence", presence_router.router, handlers=presence_handlers),
    Domain("admin", admin_router.router),
    Domain(
        "notifications", notifications_router.router, notifications_handlers, notifications_jobs
    ),
    Domain("chat", chat_router.router, handlers=chat_handlers, jobs=chat_jobs),
)


def routers() -> list[APIRouter]:
    """Every domain's HTTP router, in DOMAINS order."""
    return [d.router for d in DOMAINS if d.router is not None]


def handler_registry() -> HandlerRegistry:
    """The Socket.IO events and room policies that DOMAINS' handlers modules registered."""
    return socket_registry


def job_registry() -> infra_jobs.JobRegistry:
    """The jobs and schedules that DOMAINS' jobs modules registered."""
    return infra_jobs.registry


async def authenticate(ctx: AppContext, token: str) -> Principal:
    """A socket handshake's caller, checked as an HTTP request's is (session and standing)."""
    async with ctx.db.read() as session:
        return await accounts_queries.authenticate(session, token=token, secret=ctx.jwt_secret)


def create_context(settings: Settings) -> AppContext:
    """An AppContext for these settings with every domain wired in (what serve, gateway and
    worker run on)."""
    return AppContext.create(settings, gateway_hooks=gateway_hooks())


def gateway_hooks() -> GatewayHooks:
    """What the gateway needs of the domains, so that realtime imports none of them."""
    return GatewayHooks(
        authenticate=authenticate,
        connections=presence_handlers.GatewayPresence,
        registry=handler_registry(),
    )
