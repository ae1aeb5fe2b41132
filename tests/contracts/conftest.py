"""Contract fixtures: an app with inline jobs, and a gateway for events only sockets cause."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.helpers.chat import CHAT_SETTINGS
from tests.helpers.notifications import FAST_JOBS

CONTRACT_SETTINGS: dict[str, Any] = {
    **FAST_JOBS,
    **CHAT_SETTINGS,
    # a chat message's notification job would land at a random point of a later contract
    "chat_notify_delay_seconds": 600.0,
    "feed_like_aggregate_seconds": 0.5,  # a like burst's window closes within the contract
}


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app client, with jobs consumed in-process so their events follow the action."""
    async with make_client(**CONTRACT_SETTINGS) as c:
        yield c
