"""Search reads: full-text over posts and users (infra/search.py), filtered by what the
viewer may see; hashtag pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.errors import ValidationFailed
from townsquare.core.pagination import Page, decode_id_cursor, encode_cursor
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts.models import User
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed.queries import id_at
from townsquare.domains.posts import queries as posts_queries
from townsquare.domains.posts.content import normalize_tag
from townsquare.domains.posts.models import Post, PostTag
from townsquare.domains.posts.schemas import PostView
from townsquare.domains.social import queries as social_queries
from townsquare.domains.social.schemas import UserSummary
from townsquare.infra.media import LocalMediaStore
from townsquare.infra.search import SearchBackend, tokens


async def search_posts(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    q: str | None,
    post_type: str | None,
    tag: str | None,
    author: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[PostView]:
    """Posts matching every word of `q` and the filters, newest first, as the viewer may see."""
    words = tokens(q or "")
    if not words and not (tag or author):
        raise ValidationFailed("Search for some words, a tag or an author", code="empty_query")
    query = (
        select(Post)
        .join(User, User.id == Post.author_id)
        .where(posts_queries.visible_clause(viewer))
        .order_by(Post.id.desc())
        .limit(limit + 1)
    )
    if words:
        backend = SearchBackend(session.get_bind().dialect.name)
        query = query.where(backend.posts(Post.id, words))
    if post_type:
        query = query.where(Post.type == post_type)
    if tag:
        query = query.where(
            Post.id.in_(select(PostTag.post_id).where(PostTag.tag == normalize_tag(tag)))
        )
    if author:
        found = await accounts_queries.get_user_by_username(session, username=author)
        if found is None:
            return Page(items=[])
        query = query.where(Post.author_id == found.id)
    if since:
        query = query.where(Post.id >= id_at(since))
    if until:
        query = query.where(Post.id < id_at(until))
    if cursor:
        query = query.where(Post.id < decode_id_cursor(cursor))
    return await _page(session, viewer=viewer, query=query, limit=limit, media=media)


async def _page(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    query: object,
    limit: int,
    media: LocalMediaStore,
) -> Page[PostView]:
    posts = list((await session.execute(query)).scalars())  # type: ignore[call-overload]
    more = len(posts) > limit
    posts = posts[:limit]
    items = await posts_queries.render_posts(session, viewer=viewer, posts=posts, media=media)
    return Page(items=items, next_cursor=encode_cursor({"id": posts[-1].id}) if more else None)


async def hashtag_page(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    tag: str,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[PostView]:
    """Posts with a hashtag, newest first."""
    query = (
        select(Post)
        .join(PostTag, PostTag.post_id == Post.id)
        .join(User, User.id == Post.author_id)
        .where(PostTag.tag == normalize_tag(tag), posts_queries.visible_clause(viewer))
        .order_by(Post.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(Post.id < decode_id_cursor(cursor))
    return await _page(session, viewer=viewer, query=query, limit=limit, media=media)


async def search_users(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    q: str,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[UserSummary]:
    """Users whose username or display name match every word; blocks either way hide."""
    words = tokens(q)
    if not words:
        raise ValidationFailed("Search for some words", code="empty_query")
    backend = SearchBackend(session.get_bind().dialect.name)
    query = (
        select(User)
        .where(backend.users(User.id, words), User.status != "banned")
        .order_by(User.id.desc())
        .limit(limit + 1)
    )
    if viewer is not None and not viewer.is_staff:
        query = query.where(User.id.not_in(social_queries.hidden_ids_select(viewer.user_id)))
    if cursor:
        query = query.where(User.id < decode_id_cursor(cursor))
    users = list((await session.execute(query)).scalars())
    more = len(users) > limit
    users = users[:limit]
    items = [social_queries.summary(u, media) for u in users]
    return Page(items=items, next_cursor=encode_cursor({"id": users[-1].id}) if more else None)
