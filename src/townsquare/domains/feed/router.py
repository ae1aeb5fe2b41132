"""HTTP routes of the feed: home feed, preferences, interactions, live activity, trending."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic_core import to_json

from townsquare.core.errors import Unauthorized
from townsquare.core.pagination import DEFAULT_LIMIT, Page
from townsquare.core.params import Cursor, Limit
from townsquare.domains.accounts.dependencies import Ctx, CurrentUser, bearer_token
from townsquare.domains.feed import actions, pages, queries
from townsquare.domains.feed.schemas import (
    FeedItem,
    FeedPreferences,
    FeedPreferencesUpdate,
    FeedStatistics,
    InteractionCreate,
    Trending,
)
from townsquare.domains.feed.snapshots import snapshots
from townsquare.domains.posts.schemas import PostType

router = APIRouter(prefix="/api/v1", tags=["feed"])
WindowQuery = Annotated[Literal["hour", "day", "week"], Query()]


@router.get("/feed", response_model=Page[FeedItem])
async def home_feed(
    request: Request,
    ctx: Ctx,
    sort: Annotated[Literal["ranked", "latest"], Query()] = "ranked",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Response:
    """The home feed: ranked (default) or latest first; follow `next_cursor` for more."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Sign in to do this", code="unauthorized")
    async with ctx.db.read() as session:
        # the hot path: the standing check (decision 0003) on the feed's own connection, so a
        # page checks out one connection rather than two
        reader = await pages.Reader.of(session)
        principal = await pages.authenticate(reader, token=token, secret=ctx.jwt_secret)
        request.state.principal = principal
        page = await queries.feed_page(
            session,
            principal=principal,
            settings=ctx.settings,
            store=snapshots(ctx),
            sort=sort,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )
    # built from trusted rows in Page[FeedItem]'s JSON shape: serialize, skip re-validation
    return Response(to_json(page), media_type="application/json")


@router.get("/feed/preferences")
async def get_preferences(ctx: Ctx, principal: CurrentUser) -> FeedPreferences:
    """Which post types the feed shows and what it prioritizes."""
    async with ctx.db.read() as session:
        return await actions.get_preferences(session, user_id=principal.user_id)


@router.patch("/feed/preferences")
async def update_preferences(
    body: FeedPreferencesUpdate, ctx: Ctx, principal: CurrentUser
) -> FeedPreferences:
    """Change feed preferences; omitted switches keep their values."""
    async with ctx.db.transaction() as session:
        return await actions.do_update_preferences(session, principal=principal, changes=body)


@router.post("/feed/interactions", status_code=204)
async def record_interaction(body: InteractionCreate, ctx: Ctx, principal: CurrentUser) -> Response:
    """Record a view, click or dismissal of a feed post; dismissed posts do not come back."""
    async with ctx.db.transaction() as session:
        await actions.check_interaction(
            session, principal=principal, post_id=body.post_id, kind=body.kind
        )
    return Response(status_code=204)


@router.get("/realtime/feed")
async def activity_stream(
    ctx: Ctx,
    principal: CurrentUser,
    limit: Limit = DEFAULT_LIMIT,
    following_only: bool = False,
    types: Annotated[list[PostType] | None, Query(max_length=5)] = None,
    time_range: Annotated[Literal["hour", "day", "week"] | None, Query()] = None,
) -> list[FeedItem]:
    """Newest posts of the caller's network, filtered like a `feed:subscribe`."""
    async with ctx.db.read() as session:
        return await queries.activity(
            session,
            principal=principal,
            settings=ctx.settings,
            limit=limit,
            following_only=following_only,
            types=list(types) if types else None,
            time_range=time_range,
            media=ctx.media,
        )


@router.get("/realtime/feed/trending")
async def trending(
    ctx: Ctx, principal: CurrentUser, window: WindowQuery = "day", limit: Limit = 10
) -> Trending:
    """Time-decayed trending posts and hashtags over the last hour, day or week."""
    async with ctx.db.read() as session:
        return await queries.trending(
            session, viewer=principal, window=window, limit=limit, media=ctx.media
        )


@router.get("/realtime/feed/statistics")
async def statistics(
    ctx: Ctx, principal: CurrentUser, window: WindowQuery = "day"
) -> FeedStatistics:
    """Community activity over the window, and the caller's part in it."""
    async with ctx.db.read() as session:
        return await queries.statistics(session, principal=principal, window=window)
