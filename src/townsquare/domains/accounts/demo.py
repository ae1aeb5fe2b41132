"""Demo helpers of the accounts domain: member ids for the other domains' demo rows, counters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.domains.accounts.models import User

Counter = Callable[[ColumnElement[int]], Any]
"""A correlated count for the user whose id is the given column (a scalar subquery)."""


async def ids_by_username(session: AsyncSession) -> dict[str, int]:
    """Every member's id by username (the hand-made demo is a dozen members)."""
    rows = await session.execute(select(User.username, User.id))
    return {str(name): int(uid) for name, uid in rows}


async def user_ids(session: AsyncSession) -> list[int]:
    """Every member's id in id order: generated content draws its authors from this list."""
    return list((await session.execute(select(User.id).order_by(User.id))).scalars())


async def set_counters(session: AsyncSession, counters: Mapping[str, Counter]) -> None:
    """Set account counter columns from the rows other domains own, in one statement."""
    await session.execute(
        update(User).values({name: count(User.id.expression) for name, count in counters.items()})
    )
