"""A real `townsquare serve` and Debian's chromium driven by Playwright, shared by a module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.helpers.server import BIN, free_port, wait_healthy

WEB_BUILD = Path(__file__).parents[3] / "src" / "townsquare" / "web" / "index.html"
CHROMIUM = os.environ.get("TOWNSQUARE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "browser-test-password-1"
expect.set_options(timeout=20_000)  # two cores shared by many workers: wait, never sleep


@dataclass
class Person:
    username: str
    id: str
    tokens: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}


@dataclass
class Server:
    base: str
    http: httpx.Client

    def register(self, prefix: str) -> Person:
        """A new account, signed in over the API (each browser gets its own session)."""
        username = f"{prefix}_{uuid.uuid4().hex[:8]}"
        body = {"username": username, "email": f"{username}@example.org", "password": PASSWORD}
        made = self.http.post("/api/v1/auth/register", json=body)
        assert made.status_code == 201, made.text
        return Person(username, made.json()["id"], self.login(username))

    def login(self, username: str) -> dict[str, Any]:
        reply = self.http.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def befriend(self, a: Person, b: Person) -> None:
        asked = self.http.post(
            "/api/v1/friends/requests", json={"username": b.username}, headers=a.headers
        )
        assert asked.status_code == 201, asked.text
        request_id = asked.json()["request"]["id"]
        accepted = self.http.post(
            f"/api/v1/friends/requests/{request_id}/accept", headers=b.headers
        )
        assert accepted.status_code == 204, accepted.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`townsquare serve` on free ports with its own data directory, as `make run` starts it."""
    assert WEB_BUILD.is_file(), "the web client is not built: run `make web`"
    data = tmp_path_factory.mktemp("browser-server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNSQUARE_")}
    env |= {
        "TOWNSQUARE_DATA_DIR": str(data / "var"),
        "TOWNSQUARE_PASSWORD_HASH_PROFILE": "fast",
        "TOWNSQUARE_LOG_LEVEL": "WARNING",
    }
    migrated = subprocess.run(
        [str(BIN), "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    port, gateway_port = free_port(), free_port()
    log = (data / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port), "--gateway-port", str(gateway_port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, timeout=30)
    try:
        wait_healthy(proc, base, path="/readyz", log=data / "serve.log")
        yield Server(base, http)
    finally:
        http.close()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


class People:
    """Opens one browser context (its own storage, like its own browser) per person."""

    def __init__(self, browser: Browser, server: Server, shots: Path) -> None:
        self.browser, self.server, self.shots = browser, server, shots
        self.contexts: list[BrowserContext] = []

    def open(self, person: Person | None = None, *, path: str = "/", phone: bool = False) -> Page:
        viewport = {"width": 390, "height": 800} if phone else {"width": 1280, "height": 860}
        context = self.browser.new_context(base_url=self.server.base, viewport=viewport)
        context.set_default_timeout(20_000)
        if person is not None:
            tokens = json.dumps(person.tokens)
            context.add_init_script(
                f"if (!localStorage.getItem('townsquare.tokens'))"
                f" localStorage.setItem('townsquare.tokens', {json.dumps(tokens)});"
            )
        self.contexts.append(context)
        page = context.new_page()
        page.goto(path)
        if person is not None:
            page.wait_for_selector(".conn-dot.connected")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(browser: Browser, server: Server, tmp_path: Path) -> Iterator[People]:
    opened = People(browser, server, tmp_path)
    try:
        yield opened
    finally:
        opened.close()
