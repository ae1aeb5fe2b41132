"""Full-text search over posts and users: SQLite FTS5 or PostgreSQL full-text, one interface.

The indexes are kept by the database itself (FTS5 triggers on SQLite; on PostgreSQL GIN
indexes over a generated tsvector column for posts and an expression for users; see the 0002
and 0006 migrations), so no write path has to remember to index anything. Queries are reduced
to word tokens before they reach either engine, so no user input is ever interpreted as
search syntax. Both engines fold accents the same way ("cafe" finds "café"): FTS5 in its
tokenizer, PostgreSQL through the migration's `search_fold()` function.

Relevance is bm25 on FTS5 and ts_rank_cd on PostgreSQL, both turned into "higher is better".
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnClause, TextClause

MAX_TOKENS = 8
TOKEN = re.compile(r"\w+", re.UNICODE)

# objects the migrations make outside the SQLAlchemy metadata (FTS5 shadow tables, triggers)
SEARCH_TABLES = ("search_post", "search_user")
# PostgreSQL: posts keep their folded tsvector in a generated column (GIN-indexed, read by
# ts_rank_cd); users match the exact expression of their GIN index, so the planner uses it
SEARCH_COLUMNS = ("search_vector",)
POST_DOCUMENT = "post_post.search_vector"
USER_DOCUMENT = (
    "to_tsvector('simple'::regconfig, search_fold(username || ' ' || coalesce(display_name, '')))"
)
# ts_rank_cd normalization: divide by 1 + log(document length), like bm25's length penalty
PG_RANK_NORMALIZATION = 1
# bm25 column weights of search_user: a username hit counts more than a display-name hit
USER_COLUMN_WEIGHTS = (2.0, 1.0)

IdColumn = ColumnElement[int] | InstrumentedAttribute[int]


def is_search_object(name: str | None) -> bool:
    """True for tables, indexes and columns the search migrations own (not in the models)."""
    if not name:
        return False
    return name.startswith(SEARCH_TABLES) or name.startswith("ix_search_") or name in SEARCH_COLUMNS


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic filter: leave the search objects out of autogenerate and schema comparison."""
    return not (reflected and compare_to is None and is_search_object(name))


def tokens(query: str) -> list[str]:
    """The words of a query, lower-cased; everything else (operators, quotes) is dropped."""
    return [t.lower() for t in TOKEN.findall(query)][:MAX_TOKENS]


class SearchBackend:
    """Builds match conditions for one dialect; every word must match, the last as a prefix."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def posts(self, id_column: IdColumn, words: list[str]) -> ColumnElement[bool]:
        """Condition on a post id column: the post's text matches every word."""
        if self.dialect == "postgresql":
            return literal_column(POST_DOCUMENT).op("@@")(_tsquery(words))
        return id_column.in_(select(_fts5_matches("search_post", words).c.rowid))

    def users(self, id_column: IdColumn, words: list[str]) -> ColumnElement[bool]:
        """Condition on a user id column: username or display name matches every word."""
        if self.dialect == "postgresql":
            return literal_column(USER_DOCUMENT).op("@@")(_tsquery(words))
        return id_column.in_(select(_fts5_matches("search_user", words).c.rowid))

    def ranked_posts(
        self, query: Select[Any], id_column: IdColumn, words: list[str], *, candidates: int
    ) -> Subquery:
        """`(id, relevance)` of the newest `candidates` posts of a query that match the words.

        The bound keeps a very common word cheap: only those rows get a rank (FTS5 walks its
        doclist newest first and stops; PostgreSQL computes ts_rank_cd after the LIMIT).
        """
        relevance: ColumnElement[float]
        if self.dialect == "postgresql":
            ts_query = _tsquery(words)
            document: ColumnClause[Any] = literal_column(POST_DOCUMENT)
            relevance = func.ts_rank_cd(document, ts_query, PG_RANK_NORMALIZATION)
            narrowed = query.where(document.op("@@")(ts_query))
            newest = id_column.desc()
        else:
            fts = table("search_post", column("rowid"))
            relevance = -func.bm25(literal_column("search_post"))
            narrowed = query.join(fts, fts.c.rowid == id_column).where(
                _fts5_match("search_post", words)
            )
            newest = fts.c.rowid.desc()
        return (
            narrowed.with_only_columns(id_column.label("id"), relevance.label("relevance"))
            .order_by(newest)
            .limit(candidates)
            .subquery("candidates")
        )

    def ranked_users(
        self, query: Select[Any], id_column: IdColumn, words: list[str]
    ) -> tuple[Select[Any], ColumnElement[float]]:
        """Narrow a query on users to matches; also return their relevance (higher is better)."""
        if self.dialect == "postgresql":
            ts_query = _tsquery(words)
            document: ColumnClause[Any] = literal_column(USER_DOCUMENT)
            relevance = func.ts_rank_cd(document, ts_query, PG_RANK_NORMALIZATION)
            return query.where(document.op("@@")(ts_query)), relevance
        fts = table("search_user", column("rowid"))
        weights: list[ColumnElement[Any]] = [literal_column(repr(w)) for w in USER_COLUMN_WEIGHTS]
        bm25 = func.bm25(literal_column("search_user"), *weights)
        narrowed = query.join(fts, fts.c.rowid == id_column).where(
            _fts5_match("search_user", words)
        )
        return narrowed, -bm25


def _fts5_match(table_name: str, words: list[str]) -> TextClause:
    """`<table> MATCH :terms` with the words as one bound string."""
    terms = {f"{table_name}_terms": _fts5(words)}
    return text(f"{table_name} MATCH :{table_name}_terms").bindparams(**terms)


def _fts5_matches(table_name: str, words: list[str]) -> Subquery:
    """Row ids of an FTS5 table matching the words."""
    return (
        select(literal_column("rowid").label("rowid"))
        .select_from(text(table_name))
        .where(_fts5_match(table_name, words))
        .subquery(f"{table_name}_match")
    )


def _fts5(words: list[str]) -> str:
    """`"a" "b"*`: each word quoted (so it is never syntax), the last one a prefix."""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery(words: list[str]) -> ColumnClause[str] | ColumnElement[str]:
    """`a & b:*` over folded words; the words are `\\w+` tokens, so never tsquery syntax."""
    expression = " & ".join([*words[:-1], f"{words[-1]}:*"])
    return func.to_tsquery(literal_column("'simple'::regconfig"), func.search_fold(expression))
