"""Notification fixtures: an app that runs jobs inline and fast."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.helpers.notifications import FAST_JOBS


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app client, with the job queue consumed in-process and retries in milliseconds."""
    async with make_client(**FAST_JOBS) as c:
        yield c
