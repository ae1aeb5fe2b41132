"""Login throttling: 5 failures per account or 20 per address in the window answer 429."""

from __future__ import annotations

import asyncio

from tests.helpers.accounts import PASSWORD, register
from tests.helpers.app import from_address


async def fail_login(client, username: str) -> int:
    reply = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": "definitely-wrong-1"}
    )
    return reply.status_code


async def test_account_locks_after_five_failures_then_reopens(make_client):
    async with make_client(login_failure_window_seconds=2) as client:
        await register(client, "target")
        assert [await fail_login(client, "target") for _ in range(5)] == [401] * 5
        locked = await client.post(
            "/api/v1/auth/login", json={"username": "target", "password": PASSWORD}
        )
        assert locked.status_code == 429
        assert locked.json()["code"] == "rate_limited"
        assert 1 <= int(locked.headers["Retry-After"]) <= 2
        assert locked.json()["retry_after"] == int(locked.headers["Retry-After"])
        # other accounts from the same address are unaffected
        await register(client, "bystander")
        await asyncio.sleep(2.2)
        reopened = await client.post(
            "/api/v1/auth/login", json={"username": "target", "password": PASSWORD}
        )
        assert reopened.status_code == 200


async def test_account_lock_applies_from_any_address(make_client):
    async with (
        make_client(peer="10.0.0.1") as attacker,
        from_address(attacker, "10.0.0.2") as owner,
    ):
        await register(attacker, "lockme")
        for _ in range(5):
            await fail_login(attacker, "lockme")
        reply = await owner.post(
            "/api/v1/auth/login", json={"username": "lockme", "password": PASSWORD}
        )
        assert reply.status_code == 429


async def test_address_locks_after_twenty_failures(make_client):
    async with make_client(peer="10.9.9.9") as noisy, from_address(noisy, "10.9.9.10") as elsewhere:
        await register(noisy, "victim_a")
        for i in range(20):
            assert await fail_login(noisy, f"spray{i}") == 401
        blocked = await noisy.post(
            "/api/v1/auth/login", json={"username": "victim_a", "password": PASSWORD}
        )
        assert blocked.status_code == 429
        ok = await elsewhere.post(
            "/api/v1/auth/login", json={"username": "victim_a", "password": PASSWORD}
        )
        assert ok.status_code == 200


async def test_forwarded_address_is_used_only_behind_a_trusted_proxy(make_client):
    async with make_client(peer="192.0.2.1", trusted_proxies=["192.0.2.1"]) as proxied:
        await register(proxied, "behind_proxy")
        for i in range(20):
            await proxied.post(
                "/api/v1/auth/login",
                json={"username": f"x{i}", "password": "definitely-wrong-1"},
                headers={"X-Forwarded-For": "198.51.100.7"},
            )
        other_client = await proxied.post(
            "/api/v1/auth/login",
            json={"username": "behind_proxy", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.8"},
        )
        assert other_client.status_code == 200
        same_client = await proxied.post(
            "/api/v1/auth/login",
            json={"username": "behind_proxy", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert same_client.status_code == 429
