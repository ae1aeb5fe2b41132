"""Notification fixtures: an app that runs jobs inline and fast, event capture, notify helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.factories import app_ctx
from tests.integration.realtime.conftest import js_client, node_modules  # noqa: F401 (fixtures)
from townsquare.core.events import Delivery
from townsquare.domains.notifications import actions
from townsquare.domains.notifications.models import Notification

FAST_JOBS: dict[str, Any] = {
    "jobs_run_inline": True,  # cluster too: this API process consumes the Redis queue
    "jobs_retry_base_seconds": 0.05,
    "jobs_retry_max_seconds": 0.2,
    "jobs_poll_seconds": 0.05,
    "jobs_schedules_enabled": False,
    "push_timeout_seconds": 5.0,
    "push_https_only": False,  # the local push service speaks plain http
}


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app client, with the job queue consumed in-process and retries in milliseconds."""
    async with make_client(**FAST_JOBS) as c:
        yield c


@pytest.fixture
def published(client: httpx.AsyncClient) -> list[Delivery]:
    """Every delivery the app's database hands to the bus after a commit."""
    db = app_ctx(client).db
    seen: list[Delivery] = []
    original = db.publisher

    async def capture(deliveries: list[Delivery]) -> None:
        seen.extend(deliveries)
        if original is not None:
            await original(deliveries)

    db.publisher = capture
    return seen


async def notify(client: httpx.AsyncClient, **kw: Any) -> Notification | None:
    """Run the notify service in its own transaction, as a trigger in another domain would."""
    kw = {
        k: int(v) if k in ("recipient_id", "actor_id") and v is not None else v
        for k, v in kw.items()
    }
    async with app_ctx(client).db.transaction() as session:
        return await actions.notify(session, **kw)


def events(published: list[Delivery], name: str) -> list[Delivery]:
    return [d for d in published if d.event.type == name]
