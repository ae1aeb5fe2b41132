"""Account actions publish typed events after commit, to the right rooms, and never on rollback."""

from __future__ import annotations

import pytest

from tests.helpers.accounts import login, make_admin, register
from tests.helpers.app import app_ctx
from townsquare.core.events import emit
from townsquare.domains.accounts.schemas import AccountStatusChanged


async def test_status_change_is_told_to_the_users_own_room(client, published):
    admin = await make_admin(client)
    member = await register(client, "watched")
    await client.patch(
        "/api/v1/admin/users/watched", headers=admin.headers, json={"status": "suspended"}
    )
    assert [d.rooms for d in published] == [(f"user:{member.id}",)]
    event = published[0].event
    assert isinstance(event, AccountStatusChanged)
    assert event.type == "account:status_changed"
    assert event.payload() == {"user_id": member.id, "status": "suspended"}


async def test_refused_and_no_op_changes_publish_nothing(client, published):
    admin = await make_admin(client)
    await register(client, "quiet")
    await client.patch(
        f"/api/v1/admin/users/{admin.username}", headers=admin.headers, json={"status": "banned"}
    )
    await client.patch(
        "/api/v1/admin/users/quiet", headers=admin.headers, json={"status": "active"}
    )
    await client.patch(
        "/api/v1/admin/users/quiet", headers=admin.headers, json={"role": "moderator"}
    )
    assert published == []


async def test_rolled_back_transactions_publish_nothing(client, published):
    db = app_ctx(client).db

    async def failing_action() -> None:
        async with db.transaction() as session:
            emit(session, AccountStatusChanged(user_id=1, status="banned"), to=["user:1"])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await failing_action()
    assert published == []
    async with db.transaction() as session:
        emit(session, AccountStatusChanged(user_id=1, status="banned"), to=["user:1"])
    assert len(published) == 1


async def test_every_ended_session_is_told_to_the_users_sockets(client, published):
    from townsquare.domains.accounts.schemas import AccountSessionRevoked

    first = await register(client, "devices")
    second = await login(client, "devices")
    third = await login(client, "devices")
    await client.post("/api/v1/auth/logout", headers=first.headers)
    await client.post("/api/v1/auth/sessions/revoke-others", headers=third.headers)
    ended = [d for d in published if isinstance(d.event, AccountSessionRevoked)]
    assert [d.event.payload()["session_id"] for d in ended] == [first.session_id, second.session_id]
    assert {d.rooms for d in ended} == {(f"user:{first.id}",)}
    # a session already ended is not announced twice
    published.clear()
    await client.post("/api/v1/auth/logout", json={"refresh_token": first.refresh_token})
    assert published == []
