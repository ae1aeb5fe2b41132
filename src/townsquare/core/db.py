"""Database engine, declarative base and transactions (SQLite embedded, PostgreSQL in cluster)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, DateTime, MetaData, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import CursorResult, Engine, Result, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from townsquare.core.clock import as_utc
from townsquare.core.events import Delivery, take_pending

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both backends (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base with a fixed naming convention so migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {int: BigInteger, datetime: UTCDateTime, dict[str, Any]: JSONType}


Publisher = Callable[[list[Delivery]], Awaitable[None]]


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched: `session.execute` is typed as a plain Result, which
    lacks the count its cursor result carries."""
    return int(cast(CursorResult[Any], result).rowcount)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _inline_sqlite(url: str) -> str:
    """Any SQLite URL, on the inline driver (see core/sqlite_inline.py)."""
    import townsquare.core.sqlite_inline  # noqa: F401 (registers the dialect)

    return str(make_url(url).set(drivername="sqlite+townsquare_inline").render_as_string(False))


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create an engine with the per-backend settings (SQLite pragmas, PostgreSQL pool)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            _inline_sqlite(url),
            echo=echo,
            connect_args={"timeout": 5},
            pool_size=32,  # opening a SQLite connection costs more than the query it serves
            max_overflow=64,
        )
        sync_engine: Engine = engine.sync_engine
        event.listen(sync_engine, "connect", _sqlite_pragmas)
        return engine
    if "+asyncpg" in url:
        return create_async_engine(
            url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True
        )
    return create_async_engine(url, echo=echo, poolclass=NullPool)


class Database:
    """Owns the engine; `transaction()` commits, then hands queued events to the publisher."""

    def __init__(self, url: str, *, publisher: Publisher | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.publisher = publisher
        # SQLite has one writer at a time; queueing writers here keeps them out of SQLite's
        # busy wait, which with the inline driver would stall the event loop.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One atomic unit of work: commit on success, rollback on error, events after commit."""
        if self._write_lock is None:
            async with self._unit_of_work() as session:
                yield session
            return
        async with self._write_lock, self._unit_of_work() as session:
            yield session

    @asynccontextmanager
    async def _unit_of_work(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                take_pending(session)
                raise
            deliveries = take_pending(session)
        if deliveries and self.publisher is not None:
            await self.publisher(deliveries)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries only; nothing it does is committed."""
        async with self.sessionmaker() as session:
            yield session

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
