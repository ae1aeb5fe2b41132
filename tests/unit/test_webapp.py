"""Serving the built web client: hashed assets cached for good, index.html for client routes."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from townsquare import webapp


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=root></div>")
    (root / "assets" / "index-AbCd1234.js").write_text("console.log('hi')")
    (root / "assets" / "index-AbCd1234.js.gz").write_bytes(gzip.compress(b"console.log('hi')"))
    (root / "sw.js").write_text("self.addEventListener('push', () => {})")
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


def client_for(root: Path) -> httpx.AsyncClient:
    app = FastAPI()

    @app.get("/api/v1/known")
    async def known() -> dict[str, bool]:
        return {"ok": True}

    webapp.install(app, root)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_hashed_assets_are_immutable_and_gzipped(built: Path) -> None:
    async with client_for(built) as http:
        plain = await http.get("/assets/index-AbCd1234.js", headers={"accept-encoding": "identity"})
        zipped = await http.get("/assets/index-AbCd1234.js", headers={"accept-encoding": "gzip"})
    assert plain.status_code == zipped.status_code == 200
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["content-type"].startswith("text/javascript")
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == plain.text == "console.log('hi')"


async def test_client_routes_get_index_and_the_api_keeps_its_404s(built: Path) -> None:
    async with client_for(built) as http:
        for path in ("/", "/chat/123", "/u/ana", "/settings?x=1", "/../secret.txt"):
            page = await http.get(path)
            assert page.status_code == 200, path
            assert page.headers["cache-control"] == "no-cache"
            assert "<div id=root>" in page.text
        assert (await http.get("/sw.js")).headers["cache-control"] == "no-cache"
        assert (await http.get("/api/v1/known")).json() == {"ok": True}
        for path in ("/api/v1/unknown", "/api", "/media/x.png", "/healthz/x", "/metrics"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.post("/api/v1/unknown")).status_code == 404
        assert (await http.get("/assets/index-gone0000.js")).status_code == 404


async def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    async with client_for(tmp_path / "nothing") as http:
        page = await http.get("/feed")
    assert page.status_code == 200
    assert "make web" in page.text


async def test_web_config_names_the_gateway(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/v1/web/config")
    assert reply.status_code == 200
    body = reply.json()
    assert body["gateway_url"] is None
    assert isinstance(body["gateway_port"], int)
