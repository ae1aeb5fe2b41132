"""Roles, suspension and bans checked on every request, and the admin audit log."""

from __future__ import annotations

from tests.helpers.accounts import PASSWORD, login, make_admin, register


async def set_status(client, admin, username: str, **changes):
    return await client.patch(
        f"/api/v1/admin/users/{username}", headers=admin.headers, json=changes
    )


async def test_suspension_takes_effect_on_the_next_request(client):
    admin = await make_admin(client)
    member = await register(client, "suspect")
    assert (await client.get("/api/v1/users/me", headers=member.headers)).status_code == 200
    reply = await set_status(client, admin, "suspect", status="suspended", reason="spam")
    assert reply.status_code == 200
    assert reply.json()["status"] == "suspended"
    me = await client.get("/api/v1/users/me", headers=member.headers)
    assert me.status_code == 403
    assert me.json()["code"] == "account_suspended"
    relogin = await client.post(
        "/api/v1/auth/login", json={"username": "suspect", "password": PASSWORD}
    )
    assert relogin.status_code == 403
    assert relogin.json()["code"] == "account_suspended"
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": member.refresh_token}
    )
    assert refresh.status_code == 403
    # reinstated: the old session works again
    await set_status(client, admin, "suspect", status="active")
    assert (await client.get("/api/v1/users/me", headers=member.headers)).status_code == 200


async def test_ban_revokes_every_session(client):
    admin = await make_admin(client)
    member = await register(client, "banned_one")
    await set_status(client, admin, "banned_one", status="banned")
    await set_status(client, admin, "banned_one", status="active")
    me = await client.get("/api/v1/users/me", headers=member.headers)
    assert me.status_code == 401
    assert me.json()["code"] == "session_revoked"
    await login(client, "banned_one")


async def test_role_changes_apply_at_once_and_need_an_admin(client):
    admin = await make_admin(client)
    member = await register(client, "climber")
    denied = await set_status(client, member, "climber", role="admin")
    assert denied.status_code == 403
    promoted = await set_status(client, admin, "climber", role="moderator")
    assert promoted.json()["role"] == "moderator"
    profile = await client.get("/api/v1/users/climber", headers=admin.headers)
    assert profile.json()["role"] == "moderator"
    # a moderator is not an admin
    assert (await client.get("/api/v1/admin/audit", headers=member.headers)).status_code == 403


async def test_admin_cannot_change_themselves_or_unknown_users(client):
    admin = await make_admin(client)
    own = await set_status(client, admin, admin.username, role="user")
    assert own.status_code == 403
    assert own.json()["code"] == "self_change"
    missing = await set_status(client, admin, "ghost_user", status="banned")
    assert missing.status_code == 404
    bad = await set_status(client, admin, admin.username, role="emperor")
    assert bad.status_code == 422


async def test_audit_log_records_security_actions(client):
    admin = await make_admin(client)
    member = await register(client, "audited")
    await client.post(
        "/api/v1/auth/login", json={"username": "audited", "password": "nope-nope-nope"}
    )
    second = await login(client, "audited")
    await client.delete(f"/api/v1/auth/sessions/{second.session_id}", headers=member.headers)
    await client.post(
        "/api/v1/users/me/password",
        headers=member.headers,
        json={"current_password": PASSWORD, "new_password": "another-good-pass-5"},
    )
    await set_status(client, admin, "audited", role="moderator")
    reply = await client.get("/api/v1/admin/audit?user=audited&limit=100", headers=admin.headers)
    assert reply.status_code == 200
    actions = [entry["action"] for entry in reply.json()["items"]]
    for expected in (
        "register",
        "login",
        "login_failed",
        "session_revoke",
        "password_change",
        "role_change",
    ):
        assert expected in actions
    role_change = next(e for e in reply.json()["items"] if e["action"] == "role_change")
    assert role_change["actor_id"] == admin.id
    assert role_change["detail"]["new"] == "moderator"
    only_logins = await client.get("/api/v1/admin/audit?action=login", headers=admin.headers)
    assert {e["action"] for e in only_logins.json()["items"]} == {"login"}


async def test_audit_log_paginates_without_overlap(client):
    admin = await make_admin(client)
    for _ in range(5):
        await login(client, admin.username)
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/admin/audit?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=admin.headers)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 7
    assert seen == sorted(seen, key=int, reverse=True)
    bad = await client.get("/api/v1/admin/audit?cursor=garbage!", headers=admin.headers)
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_cursor"
