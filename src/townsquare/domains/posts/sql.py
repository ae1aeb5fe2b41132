"""SQL fragments of the post tables, for other domains' reads that must stay one statement.

Only this domain knows the columns of the post tables (decision 0005); the visibility rule is
written here once per form: as an ORM condition (`visible_clause`) and, for the feed's
driver-level statements (`feed/pages.py`: `?` is a value, `IN ?L` a list of ids), as the text
of its candidate query plus `privacy_allows` for rows read raw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, func, or_, select, true

from townsquare.domains.accounts import sql as accounts_sql
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.posts.models import Post, PostTag
from townsquare.domains.social import sql as social_sql

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def post_id() -> ColumnElement[int]:
    """The post id (time-sortable), to filter, order and page on."""
    return Post.id.expression


def visible_clause(viewer: Principal | None, *, with_mutes: bool = True) -> ColumnElement[bool]:
    """SQL condition on Post (joined to its author by `join_author`) for what the viewer may see.

    The author must not be banned; blocks either way hide; then the post's privacy. Staff see
    everything. Lists also leave out authors the viewer muted.
    """
    not_banned = accounts_sql.not_banned()
    if viewer is None:
        return and_(not_banned, Post.privacy == "public")
    if viewer.is_staff:
        return true()
    me = viewer.user_id
    clause = and_(
        not_banned,
        Post.author_id.not_in(social_sql.hidden_ids_select(me)),
        or_(
            Post.author_id == me,
            Post.privacy == "public",
            and_(Post.privacy == "friends", Post.author_id.in_(social_sql.friend_ids_select(me))),
        ),
    )
    if with_mutes:
        clause = and_(clause, Post.author_id.not_in(social_sql.muted_ids_select(me)))
    return clause


def join_author(query: Q) -> Q:
    """The query on posts joined to their authors' accounts, as `visible_clause` needs."""
    return accounts_sql.join_user(query, Post.author_id)


def visible_posts(viewer: Principal | None, *, with_mutes: bool = True) -> Select[Post]:
    """Posts the viewer may see (see `visible_clause`), to narrow further."""
    return join_author(select(Post)).where(visible_clause(viewer, with_mutes=with_mutes))


def tagged_posts(viewer: Principal | None, *, tag: str) -> Select[Post]:
    """Posts with a (normalized) hashtag the viewer may see, read from the tag index first."""
    return join_author(select(Post).join(PostTag, PostTag.post_id == Post.id)).where(
        PostTag.tag == tag, visible_clause(viewer)
    )


def of_type(post_type: str) -> ColumnElement[bool]:
    return Post.type == post_type


def has_tag(tag: str) -> ColumnElement[bool]:
    """The post carries the (normalized) hashtag."""
    return Post.id.in_(select(PostTag.post_id).where(PostTag.tag == tag))


def by_author(author_id: int) -> ColumnElement[bool]:
    return Post.author_id == author_id


def posts_count(author_id: Any) -> ScalarSelect[int]:
    """How many posts the user whose id is the column `author_id` wrote (correlated)."""
    return select(func.count()).where(Post.author_id == author_id).scalar_subquery()


# text fragments for driver-level statements ------------------------------------------------------


def candidates_sql(
    *, types: Sequence[str], exclude: str, hide_reported: bool, since: bool, before: bool
) -> str:
    """Newest posts (id, author, likes, comments, shares) by some authors that a viewer may see.

    Parameters in order: the authors (`?L`), the viewer, the viewer's friends (`?L`), those of
    `exclude` (a subquery of post ids the caller leaves out), with `hide_reported` the viewer,
    the report threshold and the viewer again, then `since` and `before` (post ids) if asked,
    and the limit. `types` are inlined (trusted constants): one cached statement per set.
    Blocks, mutes and bans are the caller's: it passes only authors the viewer may see.
    ix_post_post_feed answers it alone: a range per author, a top-N sort.
    """
    kinds = ", ".join(f"'{t}'" for t in types)
    sql = (
        "SELECT p.id, p.author_id, p.likes_count, p.comments_count, p.shares_count"
        " FROM post_post p WHERE p.author_id IN ?L"
        f" AND p.type IN ({kinds})"
        " AND (p.privacy = 'public' OR p.author_id = ?"
        " OR (p.privacy = 'friends' AND p.author_id IN ?L))"
        f" AND p.id NOT IN ({exclude})"
    )
    if hide_reported:
        sql += (
            " AND (p.author_id = ? OR p.reports_count < ?)"
            " AND p.id NOT IN (SELECT post_id FROM post_report WHERE reporter_id = ?)"
        )
    if since:
        sql += " AND p.id >= ?"
    if before:
        sql += " AND p.id < ?"
    return sql + " ORDER BY p.id DESC LIMIT ?"


def view_sql(*, extra: Sequence[str], join: str) -> str:
    """The columns of a post's view for the posts `IN ?L`, then `extra` columns over `join`.

    Columns: id, author, text, type, privacy, tags, mentions, meta, shared post id, likes,
    comments, shares, views, edited, created, updated, liked by the viewer (`?`), has media,
    then `extra` (which may name `AUTHOR`). Parameters: the viewer, those of `extra`, the ids.
    """
    columns = ",\n       ".join(extra)
    return f"""
SELECT p.id, p.author_id, p.text, p.type, p.privacy, p.tags, p.mentions, p.meta,
       p.shared_post_id, p.likes_count, p.comments_count, p.shares_count, p.views_count,
       p.is_edited, p.created_at, p.updated_at,
       EXISTS (SELECT 1 FROM post_like l WHERE l.post_id = p.id AND l.user_id = ?),
       EXISTS (SELECT 1 FROM post_media m WHERE m.post_id = p.id),
       {columns}
FROM post_post p {join}
WHERE p.id IN ?L
"""


AUTHOR = "p.author_id"  # the author's id column in `view_sql`, for `extra` and `join`
VIEW_WIDTH = 18  # how many columns of a `view_sql` row come before `extra`
MEDIA_SQL = """
SELECT post_id, id, kind, content_type, key, thumb_key, size, width, height
FROM post_media WHERE post_id IN ?L ORDER BY id
"""


def privacy_allows(privacy: str, *, author_id: int, viewer_id: int, is_friend: bool) -> bool:
    """Python twin of the privacy part of `visible_clause`, for rows read raw by `view_sql`."""
    return author_id == viewer_id or privacy == "public" or (privacy == "friends" and is_friend)
