"""Chat fixtures: an app with fast jobs and short chat timers, and a full gateway beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.helpers.app import app_ctx
from tests.helpers.chat import CHAT_SETTINGS
from townsquare.realtime import Gateway


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(**CHAT_SETTINGS) as c:
        yield c


@pytest.fixture
async def gateway_url(client: httpx.AsyncClient) -> AsyncIterator[str]:
    """A gateway with every domain's handlers, sharing the app's database and bus."""
    gw = Gateway(app_ctx(client), metrics_registry=CollectorRegistry(), freeze_gc=False)
    port = await gw.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await gw.stop()
