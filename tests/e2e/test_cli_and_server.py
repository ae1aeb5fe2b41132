"""The `townsquare` command as a user runs it: migrate, demo, admin create, serve."""

from __future__ import annotations

import re
import subprocess

import httpx
import pytest

from tests.helpers.server import BIN, free_port, run, wait_healthy

pytestmark = pytest.mark.slow  # each test starts the CLI as processes


def test_migrate_demo_and_admin(env):
    assert run(["migrate"], env).returncode == 0
    demo = run(["demo"], env)
    assert demo.returncode == 0, demo.stderr
    assert "ana_lima" in demo.stderr
    passwords = re.findall(r"ana-lima-town-\d{4}", demo.stderr)
    assert passwords
    again = run(["demo", "--if-empty"], env)
    assert "already has 12 users" in again.stderr
    weak = run(["admin", "create", "root2", "--email", "r@example.org", "--password", "short"], env)
    assert weak.returncode == 1
    made = run(
        [
            "admin",
            "create",
            "root2",
            "--email",
            "r@example.org",
            "--password",
            "a-strong-admin-pass",
        ],
        env,
    )
    assert made.returncode == 0, made.stderr
    assert "Created admin root2" in made.stderr
    assert run(["version"], env).stdout.startswith("townsquare ")


def test_demo_generates_many_members(env):
    assert run(["migrate"], env).returncode == 0
    demo = run(["demo", "--users", "2500"], env)
    assert demo.returncode == 0, demo.stderr
    assert "2488 generated members" in demo.stderr


def test_serve_answers_real_http(env):
    assert run(["migrate"], env).returncode == 0
    port, gateway_port = free_port(), free_port()
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port), "--gateway-port", str(gateway_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(server, base)
        body = {
            "username": "real_user",
            "email": "real@example.org",
            "password": "a-real-password-1",
        }
        assert httpx.post(f"{base}/api/v1/auth/register", json=body).status_code == 201
        tokens = httpx.post(f"{base}/api/v1/auth/login", json=body | {"email": None}).status_code
        assert tokens == 422  # unknown field "email" on login
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"username": "real_user", "password": "a-real-password-1"},
        )
        assert login.status_code == 200
        me = httpx.get(
            f"{base}/api/v1/users/me",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        assert me.json()["username"] == "real_user"
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["gateway"] is True
        handshake = httpx.get(
            f"http://127.0.0.1:{gateway_port}/socket.io/",
            params={"EIO": "4", "transport": "polling"},
        )
        assert handshake.status_code == 200
        assert handshake.text.startswith('0{"sid":')
    finally:
        server.terminate()
        server.wait(timeout=20)
    logs = server.stderr.read() if server.stderr else ""
    assert '"event": "request"' in logs
    assert '"request_id"' in logs
