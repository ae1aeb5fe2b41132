"""Contracts of the account events that end a user's or a session's connections."""

from __future__ import annotations

import httpx

from tests.helpers.accounts import login, make_admin, register
from tests.helpers.events import Expect, contract, users, verify_action
from townsquare.domains.accounts.schemas import AccountSessionRevoked, AccountStatusChanged


@contract(AccountStatusChanged)
async def test_status_change_goes_to_the_users_own_room(client):
    admin = await make_admin(client)
    cat = await register(client, "cat")

    def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 200, reply.text
        return [
            Expect(AccountStatusChanged, users(cat), {"user_id": cat.id, "status": "suspended"})
        ]

    await verify_action(
        client,
        lambda: client.patch(
            "/api/v1/admin/users/cat", headers=admin.headers, json={"status": "suspended"}
        ),
        expected,
    )


@contract(AccountSessionRevoked)
async def test_revoked_session_goes_to_the_users_own_room(client):
    ben = await register(client, "ben")
    other = await login(client, "ben")

    def expected(reply: httpx.Response) -> list[Expect]:
        assert reply.status_code == 204, reply.text
        ended = {"user_id": ben.id, "session_id": other.session_id}
        return [Expect(AccountSessionRevoked, users(ben), ended)]

    await verify_action(
        client,
        lambda: client.delete(f"/api/v1/auth/sessions/{other.session_id}", headers=ben.headers),
        expected,
    )
