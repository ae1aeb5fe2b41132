"""Migrating an empty database yields exactly the schema the models describe, on both backends."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from townsquare.core.db import make_engine
from townsquare.core.migrations import upgrade
from townsquare.infra.search import include_object
from townsquare.models import metadata


async def schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    async with engine.connect() as conn:

        def compare(sync_conn):
            context = MigrationContext.configure(
                sync_conn, opts={"compare_type": True, "include_object": include_object}
            )
            return compare_metadata(context, metadata)

        diff = await conn.run_sync(compare)
    await engine.dispose()
    return list(diff)


async def test_migrations_match_models(database_url):
    # database_url was produced by running every migration on an empty database
    assert await schema_diff(database_url) == []


async def test_fresh_sqlite_migration_is_idempotent(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(upgrade, url)
    assert await schema_diff(url) == []
