"""Full-text search over posts and users: SQLite FTS5 or PostgreSQL full-text, one interface.

The indexes are kept by the database itself (FTS5 triggers on SQLite, GIN expression indexes
on PostgreSQL; see the 0002 migration), so no write path has to remember to index anything.
Queries are reduced to word tokens before they reach either engine, so no user input is ever
interpreted as search syntax.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select, text
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnClause

MAX_TOKENS = 8
TOKEN = re.compile(r"\w+", re.UNICODE)

# objects the migration makes outside the SQLAlchemy metadata (FTS5 shadow tables, triggers)
SEARCH_TABLES = ("search_post", "search_user")
POST_DOCUMENT = "to_tsvector('simple'::regconfig, coalesce(text, ''))"
USER_DOCUMENT = "to_tsvector('simple'::regconfig, username || ' ' || coalesce(display_name, ''))"


def is_search_object(name: str | None) -> bool:
    """True for tables and indexes the search migration owns (they are not in the models)."""
    if not name:
        return False
    return name.startswith(SEARCH_TABLES) or name.startswith("ix_search_")


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

    def posts(
        self, id_column: ColumnElement[int] | InstrumentedAttribute[int], words: list[str]
    ) -> ColumnElement[bool]:
        """Condition on a post id column: the post's text matches every word."""
        if self.dialect == "postgresql":
            return literal_column(POST_DOCUMENT).op("@@")(_tsquery(words))
        matches: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("search_post"))
            .where(text("search_post MATCH :post_terms").bindparams(post_terms=_fts5(words)))
        )
        return id_column.in_(matches)

    def users(
        self, id_column: ColumnElement[int] | InstrumentedAttribute[int], words: list[str]
    ) -> ColumnElement[bool]:
        """Condition on a user id column: username or display name matches every word."""
        if self.dialect == "postgresql":
            return literal_column(USER_DOCUMENT).op("@@")(_tsquery(words))
        matches: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("search_user"))
            .where(text("search_user MATCH :user_terms").bindparams(user_terms=_fts5(words)))
        )
        return id_column.in_(matches)


def _fts5(words: list[str]) -> str:
    """`"a" "b"*`: each word quoted (so it is never syntax), the last one a prefix."""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery(words: list[str]) -> ColumnClause[str] | ColumnElement[str]:
    expression = " & ".join([*words[:-1], f"{words[-1]}:*"])
    return func.to_tsquery(literal_column("'simple'::regconfig"), expression)
