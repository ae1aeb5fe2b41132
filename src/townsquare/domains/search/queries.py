"""Search reads: full-text over posts and users (infra/search.py), filtered by what the
viewer may see, ordered by relevance or newest first; hashtag pages."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    case,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.errors import ValidationFailed
from townsquare.core.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS
from townsquare.core.pagination import Page, decode_cursor, decode_id_cursor, encode_cursor
from townsquare.core.text import normalize_tag
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts import sql as accounts_sql
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.feed.queries import id_at
from townsquare.domains.posts import queries as posts_queries
from townsquare.domains.posts import sql as posts_sql
from townsquare.domains.posts.schemas import PostView
from townsquare.domains.search.snapshots import Snapshot, SnapshotStore
from townsquare.domains.social import queries as social_queries
from townsquare.domains.social import sql as social_sql
from townsquare.domains.social.schemas import UserSummary
from townsquare.infra.media import LocalMediaStore
from townsquare.infra.search import SearchBackend, tokens

Sort = Literal["relevance", "latest"]
MS_PER_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class Ranking:
    """How relevance is ordered: how many of the newest matches are ranked, how many of the
    best are kept for later pages, and the small boost newer posts get."""

    window: int = 1000
    candidates: int = 5000
    recency_weight: float = 0.25
    half_life_days: float = 30.0


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
    sort: Sort | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
    store: SnapshotStore,
    ranking: Ranking,
) -> Page[PostView]:
    """Posts matching every word of `q` and the filters, as the viewer may see them: most
    relevant first (default with words), or newest first (`latest`, and always without words)."""
    words = tokens(q or "")
    if not words and not (tag or author):
        raise ValidationFailed("Search for some words, a tag or an author", code="empty_query")
    post_id = posts_sql.post_id()
    query = posts_sql.visible_posts(viewer)
    if post_type:
        query = query.where(posts_sql.of_type(post_type))
    if tag:
        query = query.where(posts_sql.has_tag(normalize_tag(tag)))
    if author:
        found = await accounts_queries.get_user_by_username(session, username=author)
        if found is None:
            return Page(items=[])
        query = query.where(posts_sql.by_author(found.id))
    if since:
        query = query.where(post_id >= id_at(since))
    if until:
        query = query.where(post_id < id_at(until))
    backend = SearchBackend(session.get_bind().dialect.name)

    if not words or sort == "latest":
        if words:
            query = query.where(backend.posts(post_id, words))
        query = query.order_by(post_id.desc()).limit(limit + 1)
        if cursor:
            query = query.where(post_id < decode_id_cursor(cursor))
        return await _latest_page(session, viewer=viewer, query=query, limit=limit, media=media)

    fingerprint = _fingerprint(
        "posts", words, post_type, tag and normalize_tag(tag), author, since, until
    )
    viewer_id = viewer.user_id if viewer else 0
    if cursor:
        ids, offset = await _from_snapshot(store, viewer_id, cursor, fingerprint)
    else:
        candidates = backend.ranked_posts(query, post_id, words, candidates=ranking.candidates)
        score = candidates.c.relevance * _recency(ranking, candidates.c.id)
        rows = await session.execute(
            select(candidates.c.id)
            .order_by(score.desc(), candidates.c.id.desc())
            .limit(ranking.window)
        )
        ids, offset = [row[0] for row in rows], 0
    chunk = ids[offset : offset + limit]
    shown = {p.id: p for p in (await session.execute(query.where(post_id.in_(chunk)))).scalars()}
    posts = [shown[i] for i in chunk if i in shown]  # re-checked: deleted or hidden since drop
    items = await posts_queries.render_posts(session, viewer=viewer, posts=posts, media=media)
    return Page(
        items=items,
        next_cursor=await _next_cursor(store, viewer_id, cursor, fingerprint, ids, offset + limit),
    )


def _recency(ranking: Ranking, post_id: ColumnElement[int]) -> ColumnElement[float]:
    """1 + w / (1 + age / half-life): a new post gets at most `w` more; age from the id."""
    if ranking.recency_weight == 0:
        return literal(1.0, Float)
    now = int(time.time() * 1000) - EPOCH_MS
    shift: ColumnElement[int] = literal_column(str(NODE_BITS + SEQUENCE_BITS))  # int8 >> int4
    created = post_id.op(">>", return_type=BigInteger)(shift)
    per_half_life = 1.0 / (MS_PER_DAY * ranking.half_life_days)
    age = (literal(now, BigInteger) - created) * literal(per_half_life, Float)
    return literal(1.0, Float) + literal(ranking.recency_weight, Float) / (
        literal(1.0, Float) + age
    )


def _fingerprint(*parts: object) -> str:
    """A short digest of a search's query and filters; a cursor only continues the same one."""
    raw = json.dumps([p.isoformat() if isinstance(p, datetime) else p for p in parts])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


async def _from_snapshot(
    store: SnapshotStore, viewer_id: int, cursor: str, fingerprint: str
) -> tuple[list[int], int]:
    """The ranked ids and offset a relevance cursor points to."""
    position = decode_cursor(cursor, keys=("s", "o"))
    token, offset = position["s"], position["o"]
    if not isinstance(token, str) or not isinstance(offset, int) or isinstance(offset, bool):
        raise ValidationFailed("Malformed cursor", code="invalid_cursor")
    if offset < 0:
        raise ValidationFailed("Malformed cursor", code="invalid_cursor")
    snapshot = await store.get(viewer_id, token) if token else None
    if snapshot is None:
        raise ValidationFailed("These search results expired; search again", code="cursor_expired")
    if snapshot.fingerprint != fingerprint:
        raise ValidationFailed("The cursor belongs to another search", code="invalid_cursor")
    return snapshot.ids, offset


async def _next_cursor(
    store: SnapshotStore,
    viewer_id: int,
    cursor: str | None,
    fingerprint: str,
    ids: list[int],
    end: int,
) -> str | None:
    """A cursor into the snapshot, stored on the first page only when there is a next one."""
    if end >= len(ids):
        return None
    if cursor:
        token = decode_cursor(cursor, keys=("s", "o"))["s"]
    else:
        token = await store.put(viewer_id, Snapshot(fingerprint=fingerprint, ids=ids))
    return encode_cursor({"s": token, "o": end})


async def _latest_page(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    query: Select[Any],
    limit: int,
    media: LocalMediaStore,
) -> Page[PostView]:
    posts = list((await session.execute(query)).scalars())
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
    post_id = posts_sql.post_id()
    query = (
        posts_sql.tagged_posts(viewer, tag=normalize_tag(tag))
        .order_by(post_id.desc())
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(post_id < decode_id_cursor(cursor))
    return await _latest_page(session, viewer=viewer, query=query, limit=limit, media=media)


async def search_users(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    q: str,
    sort: Sort | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
    store: SnapshotStore,
    ranking: Ranking,
) -> Page[UserSummary]:
    """Users whose username or display name match every word; blocks either way hide. An exact
    username comes first, then relevance (a username hit outweighs a display-name hit)."""
    words = tokens(q)
    if not words:
        raise ValidationFailed("Search for some words", code="empty_query")
    backend = SearchBackend(session.get_bind().dialect.name)
    user_id = accounts_sql.user_id()
    query = select(*accounts_sql.summary_columns()).where(accounts_sql.not_banned())
    if viewer is not None and not viewer.is_staff:
        query = query.where(user_id.not_in(social_sql.hidden_ids_select(viewer.user_id)))

    if sort == "latest":
        query = query.where(backend.users(user_id, words)).order_by(user_id.desc())
        if cursor:
            query = query.where(user_id < decode_id_cursor(cursor))
        users = list((await session.execute(query.limit(limit + 1))).all())
        more = len(users) > limit
        users = users[:limit]
        items = [social_queries.summary(u, media) for u in users]
        return Page(items=items, next_cursor=encode_cursor({"id": users[-1][0]}) if more else None)

    fingerprint = _fingerprint("users", words)
    viewer_id = viewer.user_id if viewer else 0
    if cursor:
        ids, offset = await _from_snapshot(store, viewer_id, cursor, fingerprint)
    else:
        ranked, relevance = backend.ranked_users(query, user_id, words)
        exact: ColumnElement[int] = literal(0)
        if len(words) == 1:
            exact = case((accounts_sql.has_username_key(words[0]), 1), else_=0)
        rows = await session.execute(
            ranked.with_only_columns(user_id)
            .order_by(exact.desc(), relevance.desc(), user_id.desc())
            .limit(ranking.window)
        )
        ids, offset = [row[0] for row in rows], 0
    chunk: Sequence[int] = ids[offset : offset + limit]
    shown = {u[0]: u for u in (await session.execute(query.where(user_id.in_(chunk)))).all()}
    items = [social_queries.summary(shown[i], media) for i in chunk if i in shown]
    return Page(
        items=items,
        next_cursor=await _next_cursor(store, viewer_id, cursor, fingerprint, ids, offset + limit),
    )
