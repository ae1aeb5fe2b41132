"""Programmatic Alembic: `townsquare migrate`, `serve`'s start-up check and the tests run the same
migrations."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from townsquare.core.db import make_engine

SCRIPT_LOCATION = "townsquare:migrations"
# pg_advisory_lock key for `--migrate`: API, gateway and worker processes starting together
# take turns, so exactly one applies the migrations and the others find them done
MIGRATION_LOCK_KEY = 0x7473_6D69  # "tsmi"


def alembic_config(database_url: str) -> Config:
    """An Alembic config for one database, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s")
    return config


def upgrade(database_url: str, revision: str = "heads") -> list[str]:
    """Bring a database to `revision` and return the revisions applied, oldest first.

    Blocking; call it from a thread inside an event loop.
    """
    applied: list[str] = []

    def record(*, step: Any, **_: Any) -> None:
        if step.is_upgrade:
            applied.append(step.up_revision_id)

    config = alembic_config(database_url)
    config.attributes["on_version_apply"] = record
    command.upgrade(config, revision)
    return applied


@cache
def _script() -> ScriptDirectory:
    """The package's migration scripts, read once per process."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


@cache
def head_revisions() -> tuple[str, ...]:
    """The revisions this code expects the database to be at (one head)."""
    return tuple(sorted(_script().get_heads()))


def current_heads() -> str:
    """The script's head revision, for `townsquare version`."""
    return ",".join(head_revisions())


def describe(revision: str) -> str:
    """A revision's id and the first line of its docstring, for `migrate`'s report."""
    found = _script().get_revision(revision)
    doc = (found.doc or "").strip().splitlines() if found else []
    return f"{revision} ({doc[0]})" if doc else revision


def _database_revisions(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


async def database_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions the database is at; empty for a database never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_database_revisions)


async def schema_is_current(engine: AsyncEngine) -> bool:
    """The database is at exactly the revisions this code expects (not behind, not ahead)."""
    try:
        return await database_revisions(engine) == head_revisions()
    except Exception:  # an unreachable database is reported by its own check
        return False


async def schema_revisions_of(database_url: str) -> tuple[str, ...]:
    """The database's revisions, opening and closing an engine of its own."""
    engine = make_engine(database_url)
    try:
        return await database_revisions(engine)
    finally:
        await engine.dispose()


async def upgrade_locked(database_url: str) -> list[str]:
    """Migrate a PostgreSQL database under an advisory lock, so concurrent starters take turns."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            try:
                return await asyncio.to_thread(upgrade, database_url)
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
    finally:
        await engine.dispose()
