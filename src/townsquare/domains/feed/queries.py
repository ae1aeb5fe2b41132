"""Reads of the feed: candidates, ranking, pages, activity stream, trending, statistics.

Fan-out on read: a page is computed from the graph and the post index when asked for, so a
new post is in every follower's next first page at once, whatever the author's follower count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.config import Settings
from townsquare.core.clock import utcnow
from townsquare.core.errors import ValidationFailed
from townsquare.core.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS
from townsquare.core.pagination import Page, decode_cursor, encode_cursor
from townsquare.domains.accounts.models import User
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed import ranking
from townsquare.domains.feed.actions import get_preferences
from townsquare.domains.feed.cache import SnapshotStore
from townsquare.domains.feed.models import Affinity, Dismissal, Interaction
from townsquare.domains.feed.schemas import (
    FeedItem,
    FeedPreferences,
    FeedStatistics,
    Trending,
    TrendingTag,
)
from townsquare.domains.posts import queries as posts_queries
from townsquare.domains.posts.models import Comment, Post, PostLike, PostReport, PostTag
from townsquare.domains.posts.schemas import POST_TYPES
from townsquare.domains.social.models import Block, Follow, Friendship, Mute
from townsquare.infra.media import LocalMediaStore

Window = Literal["hour", "day", "week"]
WINDOWS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
}
TYPE_SWITCHES = {
    "achievement": "show_achievements",
    "progress": "show_progress",
    "meal": "show_meals",
    "general": "show_general",
    "challenge": "show_challenges",
}


def id_at(moment: datetime) -> int:
    """The smallest post id made at or after a moment (ids start with their millisecond)."""
    ms = max(0, int(moment.timestamp() * 1000) - EPOCH_MS)
    return ms << (NODE_BITS + SEQUENCE_BITS)


@dataclass(frozen=True, slots=True)
class Network:
    """The viewer's graph as the feed needs it."""

    me: int
    friends: frozenset[int]
    following: frozenset[int]
    authors: frozenset[int]


async def network(session: AsyncSession, *, user_id: int, following_only: bool = False) -> Network:
    """Whose posts may enter the feed: friends, followed users and oneself, minus mutes/blocks.

    One round trip: the four edge lists come back tagged from a single UNION ALL.
    """
    edges = union_all(
        select(literal("f"), Friendship.friend_id).where(Friendship.user_id == user_id),
        select(literal("g"), Follow.followee_id).where(Follow.follower_id == user_id),
        select(literal("m"), Mute.muted_id).where(Mute.muter_id == user_id),
        select(literal("h"), Block.blocked_id).where(Block.blocker_id == user_id),
        select(literal("h"), Block.blocker_id).where(Block.blocked_id == user_id),
    )
    sets: dict[str, set[int]] = {"f": set(), "g": set(), "m": set(), "h": set()}
    for kind, other in (await session.execute(edges)).all():
        sets[kind].add(other)
    friends, following = sets["f"], sets["g"]
    base = following if following_only else friends | following | {user_id}
    authors = base - sets["m"] - sets["h"]
    if authors:  # banned authors leave once here rather than by a join on every candidate row
        banned = select(User.id).where(User.id.in_(authors), User.status == "banned")
        authors -= set((await session.execute(banned)).scalars())
    return Network(user_id, frozenset(friends), frozenset(following), frozenset(authors))


def _filters(
    net: Network, prefs: FeedPreferences, settings: Settings, types: list[str] | None = None
) -> list[ColumnElement[bool]]:
    """Conditions on Post that every feed read applies (the network has no banned authors)."""
    allowed = [t for t in POST_TYPES if getattr(prefs, TYPE_SWITCHES[t])]
    if types is not None:
        allowed = [t for t in allowed if t in types]
    conditions: list[ColumnElement[bool]] = [
        Post.author_id.in_(net.authors),  # banned authors were left out of the network
        Post.type.in_(allowed),
        or_(
            Post.privacy == "public",
            Post.author_id == net.me,
            and_(Post.privacy == "friends", Post.author_id.in_(net.friends)),
        ),
        Post.id.not_in(select(Dismissal.post_id).where(Dismissal.user_id == net.me)),
    ]
    if prefs.hide_reported:
        conditions.append(
            or_(
                Post.author_id == net.me,
                Post.reports_count < settings.feed_hide_reported_threshold,
            )
        )
        conditions.append(
            Post.id.not_in(select(PostReport.post_id).where(PostReport.reporter_id == net.me))
        )
    return conditions


RankedSnapshot = tuple[list[tuple[int, float]], int | None]
_CANDIDATE_COLUMNS = (
    Post.id,
    Post.author_id,
    Post.likes_count,
    Post.comments_count,
    Post.shares_count,
)


async def ranked_ids(
    session: AsyncSession, *, principal: Principal, settings: Settings, now: datetime
) -> RankedSnapshot:
    """Score the newest candidates of the viewer's network and order them best first."""
    prefs = await get_preferences(session, user_id=principal.user_id)
    net = await network(session, user_id=principal.user_id)
    if not net.authors:
        return [], None
    since = id_at(now - timedelta(days=settings.feed_window_days))
    rows = (
        await session.execute(
            select(*_CANDIDATE_COLUMNS)
            .where(Post.id >= since, *_filters(net, prefs, settings))
            .order_by(Post.id.desc())
            .limit(settings.feed_candidates)
        )
    ).all()
    if not rows:
        return [], None
    authors = {row[1] for row in rows}
    affinity = dict(
        (
            await session.execute(
                select(Affinity.author_id, Affinity.score).where(
                    Affinity.user_id == principal.user_id, Affinity.author_id.in_(authors)
                )
            )
        ).all()
    )
    weights = ranking.Weights.from_settings(
        settings,
        prioritize_friends=prefs.prioritize_friends,
        prioritize_recent=prefs.prioritize_recent,
    )
    scored = ranking.score_rows(
        [(r[0], r[1], r[2], r[3], r[4]) for r in rows],
        weights,
        now_ms=now.timestamp() * 1000 - EPOCH_MS,
        shift=NODE_BITS + SEQUENCE_BITS,
        affinity={a: float(v) for a, v in affinity.items()},
        friends=net.friends,
        me=net.me,
    )
    scored.sort(key=lambda item: (-item[1], -item[0]))
    oldest = rows[-1].id if len(rows) == settings.feed_candidates else since
    return scored, oldest


async def _render(
    session: AsyncSession,
    *,
    principal: Principal,
    ordered: list[tuple[int, float | None]],
    media: LocalMediaStore,
) -> list[FeedItem]:
    """Feed items in the given order, re-checking visibility (a post may have gone since)."""
    if not ordered:
        return []
    ids = [pid for pid, _ in ordered]
    posts = {
        p.id: p
        for p in (
            await session.execute(
                select(Post)
                .join(User, User.id == Post.author_id)
                .where(Post.id.in_(ids), posts_queries.visible_clause(principal))
            )
        ).scalars()
    }
    present = [posts[pid] for pid in ids if pid in posts]
    views = {
        v.id: v
        for v in await posts_queries.render_posts(
            session, viewer=principal, posts=present, media=media
        )
    }
    scores = dict(ordered)
    return [  # already validated as PostView: construct, do not validate again
        FeedItem.model_construct(**dict(views[pid]), score=scores[pid])
        for pid in ids
        if pid in views
    ]


async def _latest(
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    before: int | None,
    limit: int,
    media: LocalMediaStore,
    following_only: bool = False,
    types: list[str] | None = None,
    since: int | None = None,
) -> tuple[list[FeedItem], int | None]:
    """Reverse-chronological items before an id; returns them and the next `before`."""
    prefs = await get_preferences(session, user_id=principal.user_id)
    net = await network(session, user_id=principal.user_id, following_only=following_only)
    if not net.authors:
        return [], None
    query = (
        select(Post.id)
        .where(*_filters(net, prefs, settings, types))
        .order_by(Post.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Post.id < before)
    if since is not None:
        query = query.where(Post.id >= since)
    ids = list((await session.execute(query)).scalars())
    more = len(ids) > limit
    ids = ids[:limit]
    items = await _render(
        session, principal=principal, ordered=[(pid, None) for pid in ids], media=media
    )
    return items, ids[-1] if more and ids else None


async def feed_page(
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    store: SnapshotStore,
    sort: Literal["ranked", "latest"],
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[FeedItem]:
    """One page of the home feed.

    Ranked: the first page ranks the candidates and keeps the order as a snapshot; later pages
    read the snapshot, then continue in time order below the oldest candidate. Latest: keyset
    on post id. Either way a page never repeats or skips a post while new ones arrive.
    """
    position = _parse_cursor(cursor)
    if sort == "latest" or "id" in position:
        if sort == "latest" and "s" in position:
            raise ValidationFailed("This cursor belongs to the ranked feed", code="invalid_cursor")
        items, before = await _latest(
            session,
            principal=principal,
            settings=settings,
            before=position.get("id"),
            limit=limit,
            media=media,
        )
        return Page(items=items, next_cursor=encode_cursor({"id": before}) if before else None)
    if "s" in position:
        snapshot = await store.get(principal.user_id, position["s"])
        if snapshot is None:
            raise ValidationFailed(
                "This feed page expired; load the feed again", code="cursor_expired"
            )
        offset, oldest = position["o"], position["b"]
    else:
        snapshot, oldest = await ranked_ids(
            session, principal=principal, settings=settings, now=utcnow()
        )
        offset = 0
        token = await store.put(principal.user_id, snapshot) if snapshot else ""
        position = {"s": token}
    chunk = snapshot[offset : offset + limit]
    items = await _render(
        session, principal=principal, ordered=[(p, s) for p, s in chunk], media=media
    )
    end = offset + len(chunk)
    if end < len(snapshot):
        next_cursor = encode_cursor({"s": position["s"], "o": end, "b": oldest})
    elif oldest is not None:
        next_cursor = encode_cursor({"id": oldest})  # below the ranked window, in time order
    else:
        next_cursor = None
    return Page(items=items, next_cursor=next_cursor)


def _parse_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        return _check_position(decode_cursor(cursor, keys=("id",)))
    except ValidationFailed:
        return _check_position(decode_cursor(cursor, keys=("s", "o", "b")))


def _check_position(position: dict[str, Any]) -> dict[str, Any]:
    ints = [position[k] for k in ("id", "o") if k in position]
    if "b" in position and position["b"] is not None:
        ints.append(position["b"])
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in ints):
        raise ValidationFailed("Malformed cursor", code="invalid_cursor")
    if "s" in position and (not isinstance(position["s"], str) or len(position["s"]) > 64):
        raise ValidationFailed("Malformed cursor", code="invalid_cursor")
    return position


async def activity(
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    limit: int,
    following_only: bool,
    types: list[str] | None,
    time_range: Window | None,
    media: LocalMediaStore,
) -> list[FeedItem]:
    """The live activity stream: newest posts of the network (or only followed users)."""
    since = id_at(utcnow() - WINDOWS[time_range]) if time_range else None
    items, _ = await _latest(
        session,
        principal=principal,
        settings=settings,
        before=None,
        limit=limit,
        media=media,
        following_only=following_only,
        types=types,
        since=since,
    )
    return items


TRENDING_CANDIDATES = 500


async def trending(
    session: AsyncSession,
    *,
    viewer: Principal,
    window: Window,
    limit: int,
    media: LocalMediaStore,
) -> Trending:
    """Posts and hashtags with the most time-decayed engagement in the window."""
    now = utcnow()
    span = WINDOWS[window]
    since = id_at(now - span)
    half_life = span.total_seconds() / 4
    visible = posts_queries.visible_clause(viewer)
    rows = (
        await session.execute(
            select(
                Post.id,
                Post.created_at,
                Post.likes_count,
                Post.comments_count,
                Post.shares_count,
                Post.views_count,
            )
            .join(User, User.id == Post.author_id)
            .where(Post.id >= since, visible)
            .order_by(
                (Post.likes_count + 2 * Post.comments_count + 3 * Post.shares_count).desc(),
                Post.id.desc(),
            )
            .limit(TRENDING_CANDIDATES)
        )
    ).all()

    def decay(created: datetime) -> float:
        return float(0.5 ** (max(0.0, (now - created).total_seconds()) / half_life))

    scored = sorted(
        (
            (
                row.id,
                math.log1p(
                    row.likes_count
                    + 2 * row.comments_count
                    + 3 * row.shares_count
                    + 0.1 * row.views_count
                )
                * decay(row.created_at),
            )
            for row in rows
        ),
        key=lambda item: (-item[1], -item[0]),
    )[:limit]
    posts = await _render(session, principal=viewer, ordered=list(scored), media=media)
    tag_rows = (
        await session.execute(
            select(PostTag.tag, Post.created_at)
            .join(Post, Post.id == PostTag.post_id)
            .join(User, User.id == Post.author_id)
            .where(Post.id >= since, visible)
            .order_by(Post.id.desc())
            .limit(5000)
        )
    ).all()
    tags: dict[str, list[float]] = {}
    for tag, created in tag_rows:
        tags.setdefault(tag, []).append(decay(created))
    hashtags = sorted(
        (TrendingTag(tag=t, posts=len(d), score=round(sum(d), 4)) for t, d in tags.items()),
        key=lambda t: (-t.score, t.tag),
    )[:limit]
    return Trending(window=window, posts=posts, hashtags=hashtags)


async def statistics(
    session: AsyncSession, *, principal: Principal, window: Window
) -> FeedStatistics:
    """Community activity over the window, and the caller's own share of it."""
    since_time = utcnow() - WINDOWS[window]
    since = id_at(since_time)
    me = principal.user_id

    async def count(query: Any) -> int:
        return int((await session.execute(query)).scalar_one())

    by_type = dict(
        (
            await session.execute(
                select(Post.type, func.count()).where(Post.id >= since).group_by(Post.type)
            )
        ).all()
    )
    interactions = dict(
        (
            await session.execute(
                select(Interaction.kind, func.count())
                .where(Interaction.user_id == me, Interaction.id >= since)
                .group_by(Interaction.kind)
            )
        ).all()
    )
    return FeedStatistics(
        window=window,
        posts=sum(by_type.values()),
        comments=await count(select(func.count()).where(Comment.id >= since)),
        likes=await count(select(func.count()).where(PostLike.created_at >= since_time)),
        shares=await count(
            select(func.count()).where(Post.id >= since, Post.shared_post_id.is_not(None))
        ),
        active_authors=await count(
            select(func.count(func.distinct(Post.author_id))).where(Post.id >= since)
        ),
        posts_by_type={t: int(by_type.get(t, 0)) for t in POST_TYPES},
        my_posts=await count(select(func.count()).where(Post.id >= since, Post.author_id == me)),
        my_likes_received=await count(
            select(func.count())
            .select_from(PostLike)
            .join(Post, Post.id == PostLike.post_id)
            .where(Post.author_id == me, PostLike.created_at >= since_time)
        ),
        my_interactions={k: int(interactions.get(k, 0)) for k in ("view", "click", "dismiss")},
    )
