"""SQLite for SQLAlchemy's async engine without a thread hop per call.

aiosqlite sends every call to a worker thread and back; a point query then costs about 1 ms
of hand-offs while SQLite itself answers in microseconds (docs/decisions/0002). This driver
makes the same sqlite3 calls directly on the event loop thread, behind the aiosqlite adapter
SQLAlchemy already has. `Database.transaction()` serializes writers on SQLite so an in-process
writer never sits in SQLite's busy wait while holding the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import util
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

DIALECT_NAME = "sqlite.townsquare_inline"


class InlineCursor:
    """An aiosqlite-shaped cursor whose coroutines complete without suspending."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()


class _InlineQueue:
    """Stands in for aiosqlite's job queue: runs the job at once and settles its future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as error:
            if future is not None:
                future.set_exception(error)
            return
        if future is not None:
            future.set_result(result)


class InlineConnection:
    """An aiosqlite-shaped connection over a plain sqlite3 connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _InlineQueue()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)


def _module() -> types.SimpleNamespace:
    names: Sequence[str] = (
        "DatabaseError",
        "Error",
        "IntegrityError",
        "NotSupportedError",
        "OperationalError",
        "ProgrammingError",
        "sqlite_version",
        "sqlite_version_info",
    )
    attrs = {name: getattr(sqlite3, name) for name in names}
    return types.SimpleNamespace(Connection=InlineConnection, **attrs)


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DB-API adapter, connecting with sqlite3 directly."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        kw.pop("async_creator_fn", None)
        kw["check_same_thread"] = False  # the pool may close connections from another thread
        inline: Any = InlineConnection(sqlite3.connect(*arg, **kw))
        return AsyncAdapt_aiosqlite_connection(self, inline)


class SQLiteDialect_townsquare_inline(SQLiteDialect_aiosqlite):
    """`sqlite+townsquare_inline://` — the aiosqlite dialect on the inline driver."""

    driver = "townsquare_inline"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> InlineDBAPI:
        module: Any = _module()
        return InlineDBAPI(module, sqlite3)

    def retrieve_dbapi_version(self, dbapi: Any) -> Any:
        return util.parse_version_string(sqlite3.sqlite_version)


registry.register(DIALECT_NAME, __name__, "SQLiteDialect_townsquare_inline")
dialect = SQLiteDialect_townsquare_inline
