"""Safe response headers by default, `Allow` on 405, and the API docs served without a CDN."""

from __future__ import annotations

import re

from tests.helpers.accounts import register


async def test_api_answers_carry_safe_headers_and_are_never_cached(client):
    await register(client, "headed")
    reply = await client.get("/api/v1/users/headed")
    assert reply.status_code == 200
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert reply.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert reply.headers["cache-control"] == "no-store"


async def test_token_responses_are_no_store(client):
    await register(client, "tokened", password="a long enough passphrase 1")
    reply = await client.post(
        "/api/v1/auth/login",
        json={"username": "tokened", "password": "a long enough passphrase 1"},
    )
    assert reply.status_code == 200
    assert "access_token" in reply.json()
    assert reply.headers["cache-control"] == "no-store"


async def test_errors_and_ops_routes_carry_the_headers_too(client):
    missing = await client.get("/api/v1/nope")
    assert missing.status_code == 404
    assert missing.headers["x-content-type-options"] == "nosniff"
    assert missing.headers["cache-control"] == "no-store"
    health = await client.get("/healthz")
    assert health.headers["x-content-type-options"] == "nosniff"
    assert health.headers["content-security-policy"] == "frame-ancestors 'none'"


async def test_method_not_allowed_says_what_is_allowed(client):
    wrong = await client.delete("/api/v1/auth/login")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"


async def test_api_docs_load_their_assets_from_the_server(client):
    page = await client.get("/api/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for url in sources:
        assert url.startswith("/"), f"docs page loads {url} from elsewhere"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert "/api/v1/openapi.json" in page.text
    script = await client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert b"SwaggerUIBundle" in script.content
