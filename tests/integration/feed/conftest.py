"""Feed fixtures: a gateway with the domains' real handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from tests.helpers.app import app_ctx
from townsquare.realtime import Gateway
from townsquare.wiring import handler_registry


@pytest.fixture
async def live_gateway(client) -> AsyncIterator[str]:
    """A gateway beside the test app, with every domain's handlers; yields its URL."""
    ctx = app_ctx(client)
    gateway = Gateway(
        ctx,
        registry=handler_registry(),
        metrics_registry=CollectorRegistry(),
        freeze_gc=False,
    )
    port = await gateway.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await gateway.stop()
