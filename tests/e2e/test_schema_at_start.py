"""Starting honestly: embedded `serve` migrates itself, cluster refuses a schema that is behind,
`/readyz` says when the schema is not current, `version` and `migrate` say what they mean."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.helpers.server import BIN, free_port, run, wait_healthy
from townsquare.core.db import make_engine
from townsquare.core.migrations import head_revisions, upgrade

PG_URL = os.environ.get("TOWNSQUARE_TEST_DATABASE_URL")


def start_serve(env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], str]:
    port, gateway_port = free_port(), free_port()
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port), "--gateway-port", str(gateway_port), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return server, f"http://127.0.0.1:{port}"


async def pg_admin(sql: str) -> None:
    """Run one statement outside a transaction on the test server (CREATE/DROP DATABASE)."""
    assert PG_URL
    engine = make_engine(PG_URL)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
def scratch_pg() -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped after the test."""
    if not PG_URL:
        pytest.skip("cluster mode needs TOWNSQUARE_TEST_DATABASE_URL")
    name = f"townsquare_start_{secrets.token_hex(4)}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_embedded_serve_migrates_an_empty_database_itself(env):
    server, base = start_serve(env)
    try:
        wait_healthy(server, base)
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["schema"] is True
        body = {"username": "first_user", "email": "f@example.org", "password": "a-real-password-1"}
        assert httpx.post(f"{base}/api/v1/auth/register", json=body).status_code == 201
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_embedded_serve_brings_an_outdated_database_up(env, tmp_path):
    data = tmp_path / "var"
    data.mkdir()
    upgrade(f"sqlite+aiosqlite:///{data / 'townsquare.db'}", "0001")
    server, base = start_serve(env)
    try:
        wait_healthy(server, base)
        assert httpx.get(f"{base}/readyz").json()["checks"]["schema"] is True
        body = {"username": "later_user", "email": "l@example.org", "password": "a-real-password-1"}
        assert httpx.post(f"{base}/api/v1/auth/register", json=body).status_code == 201
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={k: body[k] for k in ("username", "password")}
        )
        feed = httpx.get(
            f"{base}/api/v1/feed",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        assert feed.status_code == 200, feed.text  # tables of later migrations exist
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_cluster_serve_refuses_a_schema_that_is_behind(env, scratch_pg):
    env = env | {"TOWNSQUARE_DATABASE_URL": scratch_pg}
    refused = subprocess.run(
        [str(BIN), "serve", "--port", str(free_port()), "--gateway-port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "townsquare migrate" in refused.stderr
    assert "database at empty" in refused.stderr
    server, base = start_serve(env, "--migrate")
    try:
        wait_healthy(server, base)
        assert httpx.get(f"{base}/readyz").json()["checks"]["schema"] is True
    finally:
        server.terminate()
        server.wait(timeout=30)
    logs = server.stderr.read() if server.stderr else ""
    assert "applied 0001" in logs


def test_version_names_one_schema_head(env):
    printed = run(["version"], env)
    assert printed.returncode == 0
    assert len(head_revisions()) == 1
    assert printed.stdout.strip().endswith(f"(schema {head_revisions()[0]})")


def test_migrate_says_what_it_applied(env):
    first = run(["migrate"], env)
    assert first.returncode == 0, first.stderr
    assert "applied 0001" in first.stderr
    assert f"applied {head_revisions()[0]}" in first.stderr
    again = run(["migrate"], env)
    assert again.returncode == 0
    assert "applied" not in again.stderr.replace("migration(s) applied", "")
    assert "nothing to apply" in again.stderr


async def test_readyz_is_false_while_the_schema_is_behind(backend, tmp_path, make_client):
    if backend == "embedded":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        await asyncio.to_thread(upgrade, url, "0001")
        await check_readyz_behind(make_client, url)
        return
    assert PG_URL
    name = f"townsquare_ready_{secrets.token_hex(4)}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url, "0001")
        await check_readyz_behind(make_client, url)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def check_readyz_behind(make_client, url: str) -> None:
    async with make_client(database_url=url) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["schema"] is False
        assert ready.json()["checks"]["database"] is True
        await asyncio.to_thread(upgrade, url)
        assert (await client.get("/readyz")).status_code == 200
