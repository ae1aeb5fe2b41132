"""Chat fixtures: an app with fast jobs and short chat timers, and a full gateway beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.helpers.chat import CHAT_SETTINGS


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(**CHAT_SETTINGS) as c:
        yield c
