"""Bulk loading on the driver (demo communities, benchmarks): millions of rows in minutes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table as SqlTable
from sqlalchemy.ext.asyncio import AsyncSession


async def bulk_insert(session: AsyncSession, table: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows as `insert(table)` would, on the driver: per-row ORM work costs more."""
    # Same defaults and bind processing per column; SQLite gets one executemany, PostgreSQL
    # one COPY (asyncpg's copy_records_to_table).
    assert isinstance(table, SqlTable)
    rows = list(rows)
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    given = set(rows[0])  # the rows of one call share their keys
    # a column neither given nor defaulted in Python is left out, as insert() leaves it out
    columns = [c for c in table.columns if c.key in given or c.default is not None]
    getters = []
    for column in columns:
        default = column.default
        fill: Any = None
        calls = False
        if default is not None and getattr(default, "is_scalar", False):
            fill = default.arg
        elif default is not None and getattr(default, "is_callable", False):
            fill, calls = default.arg, True
        process = column.type._cached_bind_processor(dialect)
        getters.append((column.key, default is not None, fill, calls, process))
    records = []
    for row in rows:
        values: list[Any] = []
        for key, has_default, fill, calls, process in getters:
            if key in row:
                value = row[key]
            elif has_default:
                value = fill(None) if calls else fill
            else:
                value = None
            values.append(value if process is None else process(value))
        records.append(tuple(values))
    raw = (await connection.get_raw_connection()).driver_connection
    names = [column.name for column in columns]
    if dialect.name == "postgresql":
        await raw.copy_records_to_table(table.name, records=records, columns=names)  # type: ignore[union-attr]
        return
    marks = ", ".join("?" for _ in names)
    sql = f'INSERT INTO "{table.name}" ({", ".join(names)}) VALUES ({marks})'
    raw._conn.executemany(sql, records)  # type: ignore[union-attr]  # the inline sqlite3 connection
