"""Feed pages as plain SQL on the driver connection (sqlite3 inline, asyncpg): graph, render.

A feed page is a handful of small indexed queries; building, caching and processing them
through SQLAlchemy and loading ORM objects cost several times what the database spends on
them (docs/PERFORMANCE.md, Feed). Each statement is composed from the owning domains' SQL
fragments (`accounts.sql`, `social.sql`, `posts.sql`; decision 0005), which keep the same
rules as the ORM versions (`posts.sql.visible_clause`, `posts.queries.render_posts`), and is
tested through the API on both backends.

SQL is written once with `?` for a value and `IN ?L` / `NOT IN ?L` for a list of integers,
and translated per dialect: SQLite reads the list from `json_each` (one cached statement for
any list length), PostgreSQL from an array (`= ANY($n::bigint[])`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts import sql as accounts_sql
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.posts import sql as posts_sql
from townsquare.domains.social import sql as social_sql
from townsquare.infra.media import LocalMediaStore

_MARK = re.compile(r"( NOT)? IN \?L|\?")
_translated: dict[tuple[str, bool], str] = {}


def _translate(sql: str, postgres: bool) -> str:
    """The statement in the driver's parameter style (cached: the SQL texts are constants)."""
    key = (sql, postgres)
    done = _translated.get(key)
    if done is not None:
        return done
    counter = 0

    def mark(match: re.Match[str]) -> str:
        nonlocal counter
        counter += 1
        negated = match.group(1) is not None
        if match.group(0) == "?":
            return f"${counter}" if postgres else "?"
        if postgres:
            return f" <> ALL(${counter}::bigint[])" if negated else f" = ANY(${counter}::bigint[])"
        return f"{' NOT' if negated else ''} IN (SELECT value FROM json_each(?))"

    done = _translated[key] = _MARK.sub(mark, sql)
    return done


class Reader:
    """Runs SQL on the session's own driver connection, skipping SQLAlchemy's statement layer."""

    __slots__ = ("driver", "postgres")

    def __init__(self, driver: Any, *, postgres: bool) -> None:
        self.driver = driver
        self.postgres = postgres

    @classmethod
    async def of(cls, session: AsyncSession) -> Reader:
        """A reader on the session's connection (the same transaction, if one is open)."""
        connection = await session.connection()
        postgres = connection.dialect.name == "postgresql"
        driver = (await connection.get_raw_connection()).driver_connection
        return cls(driver if postgres else driver._conn, postgres=postgres)  # type: ignore[union-attr]

    async def rows(self, sql: str, *params: Any) -> Sequence[Sequence[Any]]:
        """All rows of a query; list parameters are sequences of ints."""
        text = _translate(sql, self.postgres)
        if self.postgres:
            values = [list(p) if isinstance(p, set | frozenset | tuple) else p for p in params]
            return list(await self.driver.fetch(text, *values))
        values = [
            json.dumps(list(p)) if isinstance(p, set | frozenset | list | tuple) else p
            for p in params
        ]
        return list(self.driver.execute(text, values).fetchall())


@dataclass(frozen=True, slots=True)
class Graph:
    """The reader's side of the graph, preferences and affinities, from one round trip."""

    me: int
    friends: frozenset[int]
    following: frozenset[int]
    excluded: frozenset[int]  # muted, blocked or blocking
    preferences: dict[str, bool] | None  # None: the user never changed them (defaults)
    affinity: dict[int, float]


PREFERENCE_COLUMNS = (
    "show_achievements",
    "show_progress",
    "show_meals",
    "show_general",
    "show_challenges",
    "prioritize_friends",
    "prioritize_recent",
    "hide_blocked",
    "hide_reported",
)
_PREFERENCE_BITS = " + ".join(
    f"CAST({name} AS INTEGER) * {1 << bit}" for bit, name in enumerate(PREFERENCE_COLUMNS)
)
# the social graph (five `?`) and the feed's own rows, in one round trip
GRAPH_SQL = f"""{social_sql.graph_sql("CAST(NULL AS DOUBLE PRECISION)")}
UNION ALL SELECT 'a', author_id, score FROM feed_affinity WHERE user_id = ?
UNION ALL SELECT 'p', {_PREFERENCE_BITS}, NULL FROM feed_preferences WHERE user_id = ?
"""


async def graph(reader: Reader, *, user_id: int) -> Graph:
    """Friends, follows, mutes, blocks (both ways), affinities and preferences of one user."""
    friends: set[int] = set()
    following: set[int] = set()
    excluded: set[int] = set()
    affinity: dict[int, float] = {}
    preferences: dict[str, bool] | None = None
    for kind, other, score in await reader.rows(GRAPH_SQL, *([user_id] * 7)):
        if kind == "f":
            friends.add(other)
        elif kind == "g":
            following.add(other)
        elif kind == "x":
            excluded.add(other)
        elif kind == "a":
            affinity[other] = float(score)
        else:
            preferences = {
                name: bool(other >> bit & 1) for bit, name in enumerate(PREFERENCE_COLUMNS)
            }
    return Graph(
        user_id,
        frozenset(friends),
        frozenset(following),
        frozenset(excluded),
        preferences,
        affinity,
    )


async def authenticate(reader: Reader, *, token: str, secret: str) -> Principal:
    """`accounts.queries.authenticate` on this connection: standing read every time (0003)."""
    claims = accounts_queries.token_claims(token, secret=secret)
    rows = await reader.rows(accounts_sql.STANDING_SQL, claims.user_id, claims.session_id)
    return accounts_queries.principal_in_standing(claims, rows[0] if rows else None)


# the post, its author and the viewer's edges to the author: five `?` (the viewer), the ids
_RENDER_SQL = posts_sql.view_sql(
    extra=[
        accounts_sql.author_sql("u"),
        social_sql.is_friend_sql(posts_sql.AUTHOR),
        social_sql.mutes_sql(posts_sql.AUTHOR),
        social_sql.blocked_either_way_sql(posts_sql.AUTHOR),
    ],
    join=accounts_sql.join_user_sql(posts_sql.AUTHOR, "u"),
)
_LIKED, _EXTRA = posts_sql.VIEW_WIDTH - 2, posts_sql.VIEW_WIDTH


def _timestamp(value: Any) -> datetime:
    """SQLite keeps naive UTC text, PostgreSQL gives aware datetimes: aware UTC either way."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC) if value.tzinfo is not UTC else value


@lru_cache(maxsize=4096)
def _parse_small(text: str) -> Any:
    return json.loads(text)


def _json(value: Any) -> Any:
    """A JSON column's value; the few distinct small ones parsed once (callers must copy)."""
    if not isinstance(value, str):
        return value
    return _parse_small(value) if len(value) <= 256 else json.loads(value)


@dataclass(slots=True)
class Rendered:
    """One post as the viewer sees it: PostView's JSON (minus a shared original) as a dict."""

    id: int
    author_id: int
    shared_post_id: int | None
    json: dict[str, Any]


async def render(
    reader: Reader,
    *,
    viewer: Principal,
    ids: Sequence[int],
    media: LocalMediaStore,
) -> dict[int, Rendered]:
    """PostView JSON of the posts among `ids` the viewer may see, in one query (+ media)."""
    # Visibility is posts_sql.visible_clause (with mutes): staff see everything; others no
    # banned author, nothing across a block either way, no muted author, `friends` posts only
    # of friends. The dicts have PostView's JSON shape (ids as strings): no model per post.
    if not ids:
        return {}
    me = viewer.user_id
    staff = viewer.is_staff
    found: dict[int, Rendered] = {}
    with_media: list[int] = []
    for row in await reader.rows(_RENDER_SQL, me, me, me, me, me, list(ids)):
        (pid, author, text, kind, privacy, tags, mentions, meta, shared, likes, comments) = row[:11]
        shares, views, edited, created, updated = row[11:_LIKED]
        liked, has_media = row[_LIKED:_EXTRA]
        username, display, thumb, status, is_friend, muted, blocked = row[_EXTRA:]
        if not staff and not (
            accounts_sql.in_standing(status)
            and not blocked
            and not muted
            and posts_sql.privacy_allows(
                privacy, author_id=author, viewer_id=me, is_friend=bool(is_friend)
            )
        ):
            continue
        meta = _json(meta) or {}
        found[pid] = Rendered(
            pid,
            author,
            shared,
            {
                "id": str(pid),
                "author": {
                    "id": str(author),
                    "username": username,
                    "display_name": display,
                    "avatar_thumbnail_url": media.url(thumb),
                },
                "text": text,
                "type": kind,
                "privacy": privacy,
                "tags": list(_json(tags) or []),
                "mentions": list(_json(mentions) or []),
                "metadata": {k: str(v) for k, v in meta.items() if v is not None},
                "media": [],
                "shared_post": None,
                "shared_post_id": None,
                "stats": {"likes": likes, "comments": comments, "shares": shares, "views": views},
                "liked_by_me": bool(liked),
                "is_edited": bool(edited),
                "created_at": _timestamp(created),
                "updated_at": _timestamp(updated),
            },
        )
        if has_media:
            with_media.append(pid)
    if with_media:
        for pid, mid, kind, ctype, key, thumb_key, size, width, height in await reader.rows(
            posts_sql.MEDIA_SQL, with_media
        ):
            found[pid].json["media"].append(
                {
                    "id": str(mid),
                    "kind": kind,
                    "content_type": ctype,
                    "url": media.url(key),
                    "thumbnail_url": media.url(thumb_key),
                    "size": size,
                    "width": width,
                    "height": height,
                }
            )
    return found
