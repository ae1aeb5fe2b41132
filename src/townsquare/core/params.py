"""Route parameters every router shares, defined once so their limits agree across the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from townsquare.core.pagination import MAX_LIMIT

MAX_ID = 2**63 - 1  # IDs are signed 64-bit integers; anything larger is no ID of ours

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
UsernamePath = Annotated[str, Path(min_length=1, max_length=30)]
Cursor = Annotated[str | None, Query(max_length=512)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
