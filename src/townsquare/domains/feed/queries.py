"""Reads of the feed: candidates, ranking, pages, activity stream, trending, statistics.

Fan-out on read: a page is computed from the graph and the post index when asked for, so a
new post is in every follower's next first page at once, whatever the author's follower count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.config import Settings
from townsquare.core.clock import utcnow
from townsquare.core.errors import ValidationFailed
from townsquare.core.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS
from townsquare.core.pagination import decode_cursor, encode_cursor
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed import pages, ranking
from townsquare.domains.feed.live import online_filter as online_filter  # for posts' routes
from townsquare.domains.feed.models import Interaction
from townsquare.domains.feed.schemas import (
    FeedItem,
    FeedPreferences,
    FeedStatistics,
    Trending,
    TrendingTag,
)
from townsquare.domains.feed.snapshots import SnapshotStore
from townsquare.domains.posts import queries as posts_queries
from townsquare.domains.posts import sql as posts_sql
from townsquare.domains.posts.schemas import POST_TYPES
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


def _authors(graph: pages.Graph, *, following_only: bool = False) -> frozenset[int]:
    """Whose posts may enter the feed: friends, follows, oneself, minus mutes/blocks/bans."""
    base = graph.following if following_only else graph.friends | graph.following | {graph.me}
    return base - graph.excluded


def _preferences(graph: pages.Graph) -> FeedPreferences:
    if graph.preferences is None:
        return FeedPreferences()
    return FeedPreferences.model_construct(None, **graph.preferences)


def _candidates_sql(
    prefs: FeedPreferences,
    *,
    types: list[str] | None,
    since: bool,
    before: bool,
) -> str | None:
    """The candidate query for these switches (None when no type is allowed)."""
    # Types are inlined (from POST_TYPES, never request text): one cached statement per
    # combination; the viewer's dismissals leave in the same statement.
    allowed = [t for t in POST_TYPES if getattr(prefs, TYPE_SWITCHES[t])]
    if types is not None:
        allowed = [t for t in allowed if t in types]
    if not allowed:
        return None
    return posts_sql.candidates_sql(
        types=allowed,
        exclude=_DISMISSED_SQL,
        hide_reported=prefs.hide_reported,
        since=since,
        before=before,
    )


_DISMISSED_SQL = "SELECT post_id FROM feed_dismissal WHERE user_id = ?"


async def _candidates(
    reader: pages.Reader,
    graph: pages.Graph,
    authors: frozenset[int],
    settings: Settings,
    *,
    limit: int,
    types: list[str] | None = None,
    since: int | None = None,
    before: int | None = None,
) -> Sequence[Sequence[Any]]:
    """Rows (id, author, likes, comments, shares) of the newest visible candidates."""
    prefs = _preferences(graph)
    sql = _candidates_sql(prefs, types=types, since=since is not None, before=before is not None)
    if sql is None or not authors:
        return []
    me = graph.me
    params: list[Any] = [authors, me, graph.friends, me]
    if prefs.hide_reported:
        params += [me, settings.feed_hide_reported_threshold, me]
    if since is not None:
        params.append(since)
    if before is not None:
        params.append(before)
    params.append(limit)
    return await reader.rows(sql, *params)


RankedSnapshot = tuple[list[tuple[int, float]], int | None]


async def ranked_ids(
    session: AsyncSession, *, principal: Principal, settings: Settings, now: datetime
) -> RankedSnapshot:
    """Score the newest candidates of the viewer's network and order them best first."""
    reader = await pages.Reader.of(session)
    graph = await pages.graph(reader, user_id=principal.user_id)
    return await _ranked(reader, graph, settings=settings, now=now)


async def _ranked(
    reader: pages.Reader, graph: pages.Graph, *, settings: Settings, now: datetime
) -> RankedSnapshot:
    since = id_at(now - timedelta(days=settings.feed_window_days))
    rows = await _candidates(
        reader, graph, _authors(graph), settings, limit=settings.feed_candidates, since=since
    )
    if not rows:
        return [], None
    prefs = _preferences(graph)
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
        affinity=graph.affinity,
        friends=graph.friends,
        me=graph.me,
    )
    scored.sort(key=lambda item: (-item[1], -item[0]))
    oldest = rows[-1][0] if len(rows) == settings.feed_candidates else since
    return scored, oldest


async def _render_json(
    session: AsyncSession,
    *,
    principal: Principal,
    ordered: Sequence[tuple[int, float | None]],
    media: LocalMediaStore,
    reader: pages.Reader | None = None,
) -> list[dict[str, Any]]:
    """FeedItem JSON in the given order, re-checking visibility (a post may have gone since)."""
    if not ordered:
        return []
    reader = reader or await pages.Reader.of(session)
    ids = [pid for pid, _ in ordered]
    found = await pages.render(reader, viewer=principal, ids=ids, media=media)
    shared_ids = {r.shared_post_id for r in found.values() if r.shared_post_id is not None}
    if shared_ids:  # rare: the originals of shares, through the posts domain's own renderer
        by_id = await posts_queries.shared_originals(
            session, viewer=principal, ids=shared_ids, media=media
        )
        for rendered in found.values():
            original = by_id.get(rendered.shared_post_id)  # type: ignore[arg-type]
            if original is not None:
                rendered.json["shared_post"] = original.model_dump(mode="json")
                rendered.json["shared_post_id"] = str(rendered.shared_post_id)
    return [{**found[pid].json, "score": score} for pid, score in ordered if pid in found]


async def _render(
    session: AsyncSession,
    *,
    principal: Principal,
    ordered: Sequence[tuple[int, float | None]],
    media: LocalMediaStore,
    reader: pages.Reader | None = None,
) -> list[FeedItem]:
    """Feed items as models, for replies that embed them (activity stream, trending)."""
    items = await _render_json(
        session, principal=principal, ordered=ordered, media=media, reader=reader
    )
    return [FeedItem.model_validate(item) for item in items]


async def _latest_json(
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
) -> tuple[list[dict[str, Any]], int | None]:
    """Reverse-chronological items before an id; returns them and the next `before`."""
    reader = await pages.Reader.of(session)
    graph = await pages.graph(reader, user_id=principal.user_id)
    authors = _authors(graph, following_only=following_only)
    rows = await _candidates(
        reader, graph, authors, settings, limit=limit + 1, types=types, since=since, before=before
    )
    ids = [row[0] for row in rows]
    more = len(ids) > limit
    ids = ids[:limit]
    items = await _render_json(
        session,
        principal=principal,
        ordered=[(pid, None) for pid in ids],
        media=media,
        reader=reader,
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
) -> dict[str, Any]:
    """One page of the home feed, as the JSON of a `Page[FeedItem]`.

    Ranked: the first page ranks the candidates and keeps the order as a snapshot; later pages
    read the snapshot, then continue in time order below the oldest candidate. Latest: keyset
    on post id. Either way a page never repeats or skips a post while new ones arrive.
    """
    position = _parse_cursor(cursor)
    if sort == "latest" or "id" in position:
        if sort == "latest" and "s" in position:
            raise ValidationFailed("This cursor belongs to the ranked feed", code="invalid_cursor")
        items, before = await _latest_json(
            session,
            principal=principal,
            settings=settings,
            before=position.get("id"),
            limit=limit,
            media=media,
        )
        return {"items": items, "next_cursor": encode_cursor({"id": before}) if before else None}
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
    items = await _render_json(session, principal=principal, ordered=chunk, media=media)
    end = offset + len(chunk)
    if end < len(snapshot):
        next_cursor = encode_cursor({"s": position["s"], "o": end, "b": oldest})
    elif oldest is not None:
        next_cursor = encode_cursor({"id": oldest})  # below the ranked window, in time order
    else:
        next_cursor = None
    return {"items": items, "next_cursor": next_cursor}


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
    items, _ = await _latest_json(
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
    return [FeedItem.model_validate(item) for item in items]


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
    rows = await posts_queries.engagement_since(
        session, viewer=viewer, since_id=since, limit=TRENDING_CANDIDATES
    )

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
    tag_rows = await posts_queries.tags_since(session, viewer=viewer, since_id=since, limit=5000)
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
    posts = await posts_queries.activity_since(
        session, since_id=since, since_time=since_time, user_id=me
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
    by_type = posts.posts_by_type
    return FeedStatistics(
        window=window,
        posts=sum(by_type.values()),
        comments=posts.comments,
        likes=posts.likes,
        shares=posts.shares,
        active_authors=posts.active_authors,
        posts_by_type={t: int(by_type.get(t, 0)) for t in POST_TYPES},
        my_posts=posts.my_posts,
        my_likes_received=posts.my_likes_received,
        my_interactions={k: int(interactions.get(k, 0)) for k in ("view", "click", "dismiss")},
    )
