"""Post fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def published_ignores() -> tuple[str, ...]:
    """The domain's own events; the notifications it triggers are that suite's business."""
    return ("notification:",)
