"""Reach the app behind a test client: its context, or the same app from another address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from townsquare.context import AppContext


@asynccontextmanager
async def from_address(client: httpx.AsyncClient, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another client of the same running app, connecting from a different address."""
    app: Any = client.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=(peer, 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        other.app = app  # type: ignore[attr-defined]
        yield other


def app_ctx(client: httpx.AsyncClient) -> AppContext:
    """The AppContext behind a test client, for setup no API offers."""
    app: Any = client.app  # type: ignore[attr-defined]
    ctx: AppContext = app.state.ctx
    return ctx
