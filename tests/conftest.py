"""Shared fixtures: a clean database per test on SQLite and (in CI) PostgreSQL + Redis.

Every test that uses `client` runs once per backend: `embedded` (SQLite, in-process bus and
limits) and, when TOWNSQUARE_TEST_DATABASE_URL is set, `cluster` (PostgreSQL, plus Redis when
TOWNSQUARE_TEST_REDIS_URL is set). A configured service that cannot be reached fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.helpers.app import app_ctx
from tests.helpers.gateway import DRIVER, ROOT, JsClient, JsFactory
from townsquare.app import create_app
from townsquare.config import Settings
from townsquare.core.db import make_engine
from townsquare.core.events import Delivery
from townsquare.core.migrations import upgrade
from townsquare.models import metadata
from townsquare.realtime import Gateway

PG_URL = os.environ.get("TOWNSQUARE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TOWNSQUARE_TEST_REDIS_URL")
BACKENDS = ["embedded", *(["cluster"] if PG_URL else [])]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark cluster runs `postgres` (and `redis` when set), so `-m "not postgres"` skips them."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "cluster":
            item.add_marker(pytest.mark.postgres)
            if REDIS_URL:
                item.add_marker(pytest.mark.redis)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (cheaper than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """A migrated PostgreSQL database for this xdist worker, created fresh and dropped after."""
    if not PG_URL:
        yield None
        return
    name = f"townsquare_test_{_worker()}_{os.getpid()}"
    admin_url = make_url(PG_URL)

    async def create() -> None:
        engine = make_engine(admin_url.render_as_string(hide_password=False))
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()

    asyncio.run(create())
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url

    async def drop() -> None:
        engine = make_engine(admin_url.render_as_string(hide_password=False))
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()

    asyncio.run(drop())


async def _truncate_pg(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which deployment shape this test runs against."""
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_database: str | None
) -> str:
    """A clean, migrated database for this test."""
    if backend == "embedded":
        path = tmp_path / "townsquare.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    assert pg_database is not None
    await _truncate_pg(pg_database)
    return pg_database


@pytest.fixture
def settings(backend: str, database_url: str, tmp_path: Path) -> Settings:
    """Settings for an isolated server: its own data dir, database and Redis namespace."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=REDIS_URL if backend == "cluster" else None,
        redis_namespace=f"ts-test-{secrets.token_hex(6)}",
        jwt_secret="test-secret-" + secrets.token_hex(16),
        log_json=True,
        log_level="WARNING",
        password_hash_profile="fast",
    )


ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def make_client(settings: Settings) -> ClientFactory:
    """Open an app (with optional setting overrides) and an HTTP client to it."""

    @asynccontextmanager
    async def factory(
        peer: str = "127.0.0.1", **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        app_settings = settings.model_copy(update=overrides)
        app = create_app(app_settings)
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app, client=(peer, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                c.app = app  # type: ignore[attr-defined]
                yield c

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to a fresh app on a clean database."""
    async with make_client() as c:
        yield c


@pytest.fixture
def published_ignores() -> tuple[str, ...]:
    """Event type prefixes `published` leaves out; a folder overrides it to keep to its own."""
    return ()


@pytest.fixture
def published(client: httpx.AsyncClient, published_ignores: tuple[str, ...]) -> list[Delivery]:
    """Every delivery the app's database hands to the bus after a commit, in order."""
    db = app_ctx(client).db
    seen: list[Delivery] = []
    original = db.publisher

    async def capture(deliveries: list[Delivery]) -> None:
        seen.extend(d for d in deliveries if not d.event.type.startswith(published_ignores))
        if original is not None:
            await original(deliveries)

    db.publisher = capture
    return seen


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """socket.io-client, installed from package.json on first use."""
    if shutil.which("node") is None:
        pytest.fail("node is required for the socket.io-client tests")
    target = ROOT / "node_modules" / "socket.io-client"
    if not target.exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=ROOT, check=True
        )
    return target


@pytest.fixture
def js_client(node_modules: Path) -> JsFactory:
    """Start the official socket.io-client in a Node process against a gateway URL."""

    @asynccontextmanager
    async def factory(url: str, **options: Any) -> AsyncIterator[JsClient]:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(DRIVER),
            url + "/realtime",
            json.dumps(options),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        js = JsClient(proc)
        try:
            yield js
        finally:
            await js.close()

    return factory


@pytest.fixture
async def gateway_url(client: httpx.AsyncClient) -> AsyncIterator[str]:
    """A gateway with every domain's handlers, sharing the app's database and bus (whichever
    `client` the test's folder defines)."""
    gw = Gateway(app_ctx(client), metrics_registry=CollectorRegistry(), freeze_gc=False)
    port = await gw.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await gw.stop()
