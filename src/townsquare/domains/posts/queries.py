"""Reads of posts and comments; every read applies privacy, blocks and (in lists) mutes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.errors import NotFound
from townsquare.core.pagination import Page, decode_id_cursor, encode_cursor
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts import sql as accounts_sql
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.posts import policy
from townsquare.domains.posts.models import Comment, Post, PostEdit, PostLike, PostMedia, PostTag
from townsquare.domains.posts.schemas import (
    CommentView,
    MediaView,
    PostEditView,
    PostStats,
    PostView,
)
from townsquare.domains.posts.sql import join_author, visible_clause, visible_posts
from townsquare.domains.social import queries as social_queries
from townsquare.domains.social import sql as social_sql
from townsquare.domains.social.schemas import UserSummary
from townsquare.infra.media import LocalMediaStore


async def get_post(session: AsyncSession, *, post_id: int) -> Post | None:
    """A post whatever its visibility: for jobs and after-commit work, not for replies."""
    return await session.get(Post, post_id)


async def access_post(session: AsyncSession, *, viewer: Principal | None, post_id: int) -> Post:
    """A post the viewer may see; 404 for missing and hidden alike."""
    found = (
        await session.execute(
            join_author(select(Post, accounts_sql.status())).where(Post.id == post_id)
        )
    ).one_or_none()
    if found is None:
        raise NotFound("No such post")
    post, author_status = found
    rel = await accounts_queries.relationship(
        session, viewer_id=viewer.user_id if viewer else None, owner_id=post.author_id
    )
    if not policy.can_view_post(viewer, privacy=post.privacy, author_status=author_status, rel=rel):
        raise NotFound("No such post")
    return post


async def can_view(session: AsyncSession, *, viewer: Principal | None, post_id: int) -> bool:
    try:
        await access_post(session, viewer=viewer, post_id=post_id)
    except NotFound:
        return False
    return True


def media_view(row: PostMedia, media: LocalMediaStore) -> MediaView:
    url = media.url(row.key)
    assert url is not None
    return MediaView(
        id=row.id,
        kind=row.kind,
        content_type=row.content_type,
        url=url,
        thumbnail_url=media.url(row.thumb_key),
        size=row.size,
        width=row.width,
        height=row.height,
    )


async def render_posts(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    posts: Sequence[Post],
    media: LocalMediaStore,
    depth: int = 0,
) -> list[PostView]:
    """Views of many posts with few queries: authors, media, likes and shared originals."""
    if not posts:
        return []
    ids = [p.id for p in posts]
    users = await social_queries.summaries(
        session, user_ids=[p.author_id for p in posts], media=media
    )
    media_rows: dict[int, list[MediaView]] = {}
    for row in (
        await session.execute(
            select(PostMedia).where(PostMedia.post_id.in_(ids)).order_by(PostMedia.id)
        )
    ).scalars():
        assert row.post_id is not None
        media_rows.setdefault(row.post_id, []).append(media_view(row, media))
    liked: set[int] = set()
    if viewer is not None:
        liked = set(
            (
                await session.execute(
                    select(PostLike.post_id).where(
                        PostLike.user_id == viewer.user_id, PostLike.post_id.in_(ids)
                    )
                )
            ).scalars()
        )
    shared: dict[int, PostView] = {}
    shared_ids = {p.shared_post_id for p in posts if p.shared_post_id is not None}
    if shared_ids and depth == 0:
        shared = await shared_originals(session, viewer=viewer, ids=shared_ids, media=media)
    return [_post_view(p, users, media_rows, liked, shared) for p in posts if p.author_id in users]


async def shared_originals(
    session: AsyncSession, *, viewer: Principal | None, ids: set[int], media: LocalMediaStore
) -> dict[int, PostView]:
    """Views of the originals of shares the viewer may see, by id (the muted stay visible)."""
    originals = (
        await session.execute(visible_posts(viewer, with_mutes=False).where(Post.id.in_(ids)))
    ).scalars()
    views = await render_posts(session, viewer=viewer, posts=list(originals), media=media, depth=1)
    return {view.id: view for view in views}


def _post_view(
    post: Post,
    users: dict[int, UserSummary],
    media_rows: dict[int, list[MediaView]],
    liked: set[int],
    shared: dict[int, PostView],
) -> PostView:
    original = shared.get(post.shared_post_id) if post.shared_post_id else None
    meta: dict[str, Any] = dict(post.meta or {})
    return PostView(
        id=post.id,
        author=users[post.author_id],
        text=post.text,
        type=post.type,
        privacy=post.privacy,
        tags=list(post.tags or []),
        mentions=list(post.mentions or []),
        metadata={k: str(v) for k, v in meta.items() if v is not None},
        media=media_rows.get(post.id, []),
        shared_post=original,
        shared_post_id=post.shared_post_id if original is not None else None,
        stats=PostStats(
            likes=post.likes_count,
            comments=post.comments_count,
            shares=post.shares_count,
            views=post.views_count,
        ),
        liked_by_me=post.id in liked,
        is_edited=post.is_edited,
        created_at=post.created_at,
        updated_at=post.updated_at,
    )


async def get_post_view(
    session: AsyncSession, *, viewer: Principal | None, post_id: int, media: LocalMediaStore
) -> PostView:
    post = await access_post(session, viewer=viewer, post_id=post_id)
    [view] = await render_posts(session, viewer=viewer, posts=[post], media=media)
    return view


async def get_resent_post(
    session: AsyncSession, *, author_id: int, client_id: str | None
) -> Post | None:
    """The caller's post made earlier with this idempotency key, so a replay is not a repost."""
    if client_id is None:
        return None
    found = await session.execute(
        select(Post).where(Post.author_id == author_id, Post.client_id == client_id)
    )
    return found.scalar_one_or_none()


async def get_resent_comment(
    session: AsyncSession, *, author_id: int, client_id: str | None, media: LocalMediaStore
) -> CommentView | None:
    """The caller's comment made earlier with this idempotency key, shaped as when it was made."""
    if client_id is None:
        return None
    found = (
        await session.execute(
            select(Comment).where(Comment.author_id == author_id, Comment.client_id == client_id)
        )
    ).scalar_one_or_none()
    if found is None:
        return None
    users = await social_queries.summaries(session, user_ids=[author_id], media=media)
    return comment_view(found, users[author_id])


async def list_user_posts(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    username: str,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[PostView]:
    """A user's posts the viewer may see, newest first (their profile must be visible)."""
    profile = await accounts_queries.access_profile(
        session, viewer=viewer, username=username, media=media
    )
    query = (
        visible_posts(viewer, with_mutes=False)
        .where(Post.author_id == profile.id)
        .order_by(Post.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(Post.id < decode_id_cursor(cursor))
    posts = list((await session.execute(query)).scalars())
    more = len(posts) > limit
    posts = posts[:limit]
    items = await render_posts(session, viewer=viewer, posts=posts, media=media)
    return Page(items=items, next_cursor=encode_cursor({"id": posts[-1].id}) if more else None)


async def list_history(
    session: AsyncSession, *, viewer: Principal, post_id: int
) -> list[PostEditView]:
    """Earlier versions of a post, newest first: for its author and moderators."""
    post = await access_post(session, viewer=viewer, post_id=post_id)
    if not policy.can_see_history(viewer, author_id=post.author_id):
        raise NotFound("No such post")
    rows = (
        await session.execute(
            select(PostEdit).where(PostEdit.post_id == post_id).order_by(PostEdit.id.desc())
        )
    ).scalars()
    return [
        PostEditView(
            id=r.id,
            text=r.text,
            tags=list(r.tags or []),
            editor_id=r.editor_id,
            created_at=r.created_at,
        )
        for r in rows
    ]


def comment_view(comment: Comment, author: UserSummary) -> CommentView:
    return CommentView(
        id=comment.id,
        post_id=comment.post_id,
        parent_id=comment.parent_id,
        author=author,
        text=comment.text,
        replies=comment.replies_count,
        is_edited=comment.is_edited,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
    )


def _comment_filter(viewer: Principal | None) -> ColumnElement[bool]:
    """Comments by users hidden from (or muted by) the viewer are left out."""
    if viewer is None or viewer.is_staff:
        return accounts_sql.not_banned() if viewer is None else true()
    me = viewer.user_id
    return and_(
        accounts_sql.not_banned(),
        Comment.author_id.not_in(social_sql.hidden_ids_select(me)),
        Comment.author_id.not_in(social_sql.muted_ids_select(me)),
    )


async def list_comments(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    post_id: int,
    parent_id: int | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[CommentView]:
    """Top-level comments of a post, or the replies to one, oldest first."""
    await access_post(session, viewer=viewer, post_id=post_id)
    query = (
        accounts_sql.join_user(select(Comment), Comment.author_id)
        .where(
            Comment.post_id == post_id,
            Comment.parent_id.is_(None) if parent_id is None else Comment.parent_id == parent_id,
            _comment_filter(viewer),
        )
        .order_by(Comment.id)
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(Comment.id > decode_id_cursor(cursor))
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    users = await social_queries.summaries(
        session, user_ids=[c.author_id for c in rows], media=media
    )
    items = [comment_view(c, users[c.author_id]) for c in rows]
    return Page(items=items, next_cursor=encode_cursor({"id": rows[-1].id}) if more else None)


async def access_comment(
    session: AsyncSession, *, viewer: Principal | None, comment_id: int
) -> Comment:
    """A comment on a visible post, not by someone hidden from the viewer; else 404."""
    found = (
        await session.execute(
            accounts_sql.join_user(select(Comment), Comment.author_id).where(
                Comment.id == comment_id, _comment_filter(viewer)
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("No such comment")
    await access_post(session, viewer=viewer, post_id=found.post_id)
    return found


async def engagement_since(
    session: AsyncSession, *, viewer: Principal, since_id: int, limit: int
) -> Sequence[Row[int, datetime, int, int, int, int]]:
    """(id, created, likes, comments, shares, views) of the most engaging visible posts since
    an id, best first: trending's candidates."""
    return (
        await session.execute(
            join_author(
                select(
                    Post.id,
                    Post.created_at,
                    Post.likes_count,
                    Post.comments_count,
                    Post.shares_count,
                    Post.views_count,
                )
            )
            .where(Post.id >= since_id, visible_clause(viewer))
            .order_by(
                (Post.likes_count + 2 * Post.comments_count + 3 * Post.shares_count).desc(),
                Post.id.desc(),
            )
            .limit(limit)
        )
    ).all()


async def tags_since(
    session: AsyncSession, *, viewer: Principal, since_id: int, limit: int
) -> Sequence[Row[str, datetime]]:
    """(tag, post created) of the hashtags on the newest visible posts since an id."""
    return (
        await session.execute(
            join_author(select(PostTag.tag, Post.created_at).join(Post, Post.id == PostTag.post_id))
            .where(Post.id >= since_id, visible_clause(viewer))
            .order_by(Post.id.desc())
            .limit(limit)
        )
    ).all()


@dataclass(frozen=True, slots=True)
class Activity:
    """Posting and engagement since a moment: the community's, and one member's share."""

    posts_by_type: dict[str, int]
    comments: int
    likes: int
    shares: int
    active_authors: int
    my_posts: int
    my_likes_received: int


async def activity_since(
    session: AsyncSession, *, since_id: int, since_time: datetime, user_id: int
) -> Activity:
    """Counts of posts, comments, likes and shares since a moment (ids for the id-keyed)."""

    async def count(query: Any) -> int:
        return int((await session.execute(query)).scalar_one())

    by_type = dict(
        (
            await session.execute(
                select(Post.type, func.count()).where(Post.id >= since_id).group_by(Post.type)
            )
        ).all()
    )
    return Activity(
        posts_by_type={str(t): int(n) for t, n in by_type.items()},
        comments=await count(select(func.count()).where(Comment.id >= since_id)),
        likes=await count(select(func.count()).where(PostLike.created_at >= since_time)),
        shares=await count(
            select(func.count()).where(Post.id >= since_id, Post.shared_post_id.is_not(None))
        ),
        active_authors=await count(
            select(func.count(func.distinct(Post.author_id))).where(Post.id >= since_id)
        ),
        my_posts=await count(
            select(func.count()).where(Post.id >= since_id, Post.author_id == user_id)
        ),
        my_likes_received=await count(
            select(func.count())
            .select_from(PostLike)
            .join(Post, Post.id == PostLike.post_id)
            .where(Post.author_id == user_id, PostLike.created_at >= since_time)
        ),
    )
