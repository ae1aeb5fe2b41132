"""HTTP routes of search and hashtag pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from townsquare.context import AppContext
from townsquare.core.pagination import DEFAULT_LIMIT, Page
from townsquare.core.params import Cursor, Limit
from townsquare.domains.accounts.dependencies import Ctx, OptionalUser
from townsquare.domains.posts.schemas import PostType, PostView
from townsquare.domains.search import queries
from townsquare.domains.search.snapshots import snapshots
from townsquare.domains.social.schemas import UserSummary

router = APIRouter(prefix="/api/v1", tags=["search"])
SortQuery = Annotated[
    queries.Sort | None,
    Query(description="relevance (default with words) or latest (newest first)"),
]
TagPath = Annotated[str, Path(pattern=r"^#?[A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*$", max_length=51)]


@router.get("/search/posts")
async def search_posts(
    ctx: Ctx,
    principal: OptionalUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[PostType | None, Query()] = None,
    tag: Annotated[str | None, Query(pattern=r"^#?[A-Za-z][A-Za-z0-9_]{0,49}$")] = None,
    author: Annotated[str | None, Query(max_length=30)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: SortQuery = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[PostView]:
    """Full-text search over the posts the caller may see, most relevant first."""
    async with ctx.db.read() as session:
        return await queries.search_posts(
            session,
            viewer=principal,
            q=q,
            post_type=type,
            tag=tag,
            author=author,
            since=since,
            until=until,
            sort=sort,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
            store=snapshots(ctx),
            ranking=_ranking(ctx),
        )


@router.get("/search/users")
async def search_users(
    ctx: Ctx,
    principal: OptionalUser,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    sort: SortQuery = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[UserSummary]:
    """Users by username or display name (prefix matching on the last word), best match first."""
    async with ctx.db.read() as session:
        return await queries.search_users(
            session,
            viewer=principal,
            q=q,
            sort=sort,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
            store=snapshots(ctx),
            ranking=_ranking(ctx),
        )


@router.get("/tags/{tag}")
async def hashtag(
    tag: TagPath,
    ctx: Ctx,
    principal: OptionalUser,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[PostView]:
    """A hashtag page: posts with the tag, newest first."""
    async with ctx.db.read() as session:
        return await queries.hashtag_page(
            session, viewer=principal, tag=tag, cursor=cursor, limit=limit, media=ctx.media
        )


def _ranking(ctx: AppContext) -> queries.Ranking:
    """The relevance settings of this deployment."""
    settings = ctx.settings
    return queries.Ranking(
        window=settings.search_rank_window,
        candidates=settings.search_rank_candidates,
        recency_weight=settings.search_recency_weight,
        half_life_days=settings.search_recency_half_life_days,
    )
