"""Health, readiness, metrics, OpenAPI, request ids and problem+json for unmatched routes."""

from __future__ import annotations

from tests.helpers.accounts import register
from townsquare.core.db import make_engine


async def test_healthz_and_readyz(client):
    health = await client.get("/healthz")
    assert health.json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] is True
    assert ready.json()["checks"]["bus"] is True


async def test_readyz_reports_a_dead_database(client):
    ctx = client.app.state.ctx
    engine = ctx.db.engine
    ctx.db.engine = make_engine("sqlite+aiosqlite:////nonexistent-dir/x/y.db")
    try:
        reply = await client.get("/readyz")
    finally:
        await ctx.db.engine.dispose()
        ctx.db.engine = engine
    assert reply.status_code == 503
    assert reply.json()["checks"]["database"] is False
    assert (await client.get("/readyz")).status_code == 200


async def test_metrics_count_requests_per_route(client):
    await register(client, "metered")
    await client.get("/api/v1/users/metered")
    text = (await client.get("/metrics")).text
    route = 'route="/api/v1/users/{username}"'
    assert f'townsquare_http_requests_total{{method="GET",{route},status="200"}} 1.0' in text
    assert "townsquare_http_request_duration_seconds_bucket" in text


async def test_openapi_document(client):
    doc = (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/auth/login" in doc["paths"]
    assert "/api/v1/users/{username}" in doc["paths"]


async def test_request_id_is_echoed_or_made(client):
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    junk = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith tabs"})
    assert junk.headers["x-request-id"] != "bad id\twith tabs"
    assert len(junk.headers["x-request-id"]) == 16


async def test_unmatched_routes_are_problem_json(client):
    missing = await client.get("/api/v1/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "not_found"
    wrong_method = await client.delete("/api/v1/auth/login")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


async def test_chunked_oversized_body_is_refused(client):
    async def chunks():
        for _ in range(40):
            yield b"x" * 65536

    reply = await client.post(
        "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413


async def test_nul_bytes_never_reach_the_database(client):
    path = await client.get("/api/v1/users/%00abc")
    assert path.status_code == 400
    assert path.json()["code"] == "invalid_characters"
    login = await client.post(
        "/api/v1/auth/login", json={"username": "ab\u0000cd", "password": "whatever-123"}
    )
    assert login.status_code == 422
    register = await client.post(
        "/api/v1/auth/register",
        json={"username": "nulled", "email": "n@example.org", "password": "pass\u0000word-long"},
    )
    assert register.status_code == 422
