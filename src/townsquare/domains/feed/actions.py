"""Every write of the feed: affinity, interactions, dismissals, preferences."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.clock import utcnow
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed.live import note_like as note_like  # for posts' like routes
from townsquare.domains.feed.models import Affinity, Dismissal, Interaction, Preferences
from townsquare.domains.feed.schemas import FeedPreferences, FeedPreferencesUpdate
from townsquare.domains.posts import queries as posts_queries

AFFINITY_WEIGHTS = {
    "view": 0.1,
    "click": 0.5,
    "like": 1.0,
    "comment": 2.0,
    "share": 3.0,
    "dismiss": -2.0,
}


async def do_record_affinity(
    session: AsyncSession, *, user_id: int, author_id: int, kind: str
) -> None:
    """Strengthen (or, for a dismissal, weaken) how much a user's feed favours an author."""
    if user_id == author_id:
        return
    weight = AFFINITY_WEIGHTS[kind]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Affinity).values(
        user_id=user_id, author_id=author_id, score=weight, updated_at=utcnow()
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Affinity.user_id, Affinity.author_id],
        set_={"score": Affinity.score + weight, "updated_at": utcnow()},
    )
    await session.execute(statement)


async def check_interaction(
    session: AsyncSession, *, principal: Principal, post_id: int, kind: str
) -> None:
    """Record a view, click or dismissal of a visible post; dismissed posts leave the feed."""
    post = await posts_queries.access_post(session, viewer=principal, post_id=post_id)
    session.add(Interaction(user_id=principal.user_id, post_id=post.id, kind=kind))
    if kind == "dismiss":
        try:
            async with session.begin_nested():
                session.add(Dismissal(user_id=principal.user_id, post_id=post.id))
                await session.flush()
        except IntegrityError:
            return  # dismissed before: the author was already weighed down once
    await do_record_affinity(
        session, user_id=principal.user_id, author_id=post.author_id, kind=kind
    )


async def do_update_preferences(
    session: AsyncSession, *, principal: Principal, changes: FeedPreferencesUpdate
) -> FeedPreferences:
    """Change the switches sent; the others keep their values."""
    row = await session.get(Preferences, principal.user_id)
    if row is None:
        row = Preferences(user_id=principal.user_id, **FeedPreferences().model_dump())
        session.add(row)
    for name, value in changes.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(row, name, value)
    await session.flush()
    return FeedPreferences.model_validate(row, from_attributes=True)


async def get_preferences(session: AsyncSession, *, user_id: int) -> FeedPreferences:
    row = (
        await session.execute(select(Preferences).where(Preferences.user_id == user_id))
    ).scalar_one_or_none()
    if row is None:
        return FeedPreferences()
    return FeedPreferences.model_validate(row, from_attributes=True)
