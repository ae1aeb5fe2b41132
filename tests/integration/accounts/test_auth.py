"""Registration, login, refresh rotation and reuse detection, logout, sessions, passwords."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests.helpers.accounts import PASSWORD, login, register
from tests.helpers.app import app_ctx
from townsquare.domains.accounts.models import User


async def count_users(client) -> int:
    async with app_ctx(client).db.read() as session:
        return (await session.execute(select(func.count()).select_from(User))).scalar_one()


async def test_register_returns_own_profile_without_secrets(client):
    reply = await client.post(
        "/api/v1/auth/register",
        json={"username": "Ana_Lima", "email": "ana@example.org", "password": PASSWORD},
    )
    assert reply.status_code == 201
    body = reply.json()
    assert isinstance(body["id"], str) and body["id"].isdigit()
    assert body["username"] == "Ana_Lima"
    assert body["email"] == "ana@example.org"
    assert body["privacy"]["profile_visibility"] == "public"
    assert "password" not in reply.text and "argon2" not in reply.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "ab"),
        ("username", "a" * 31),
        ("username", "bad name"),
        ("username", "bad-name"),
        ("username", 12345),
        ("email", "not-an-email"),
        ("password", ""),
        ("password", "x" * 300),
    ],
)
async def test_register_rejects_bad_fields_and_writes_nothing(client, field, value):
    body = {"username": "valid_name", "email": "v@example.org", "password": PASSWORD}
    body[field] = value
    reply = await client.post("/api/v1/auth/register", json=body)
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == "validation_failed"
    assert any(err["field"] == field for err in reply.json()["errors"])
    assert await count_users(client) == 0


async def test_register_rejects_unknown_fields(client):
    reply = await client.post(
        "/api/v1/auth/register",
        json={
            "username": "valid_name",
            "email": "v@example.org",
            "password": PASSWORD,
            "role": "admin",
        },
    )
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "role"
    assert await count_users(client) == 0


async def test_register_rejects_malformed_and_oversized_bodies(client):
    malformed = await client.post(
        "/api/v1/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json"
    huge = await client.post(
        "/api/v1/auth/register",
        json={"username": "valid_name", "email": "v@example.org", "password": "x" * 2_000_000},
    )
    assert huge.status_code == 413
    assert huge.json()["code"] == "payload_too_large"
    assert await count_users(client) == 0


async def test_password_policy_lists_every_failure(client):
    reply = await client.post(
        "/api/v1/auth/register",
        json={"username": "shorty", "email": "s@example.org", "password": "shorty"},
    )
    assert reply.status_code == 422
    body = reply.json()
    assert body["code"] == "weak_password"
    messages = [err["message"] for err in body["errors"]]
    assert any("at least 10" in m for m in messages)
    assert any("same as the username" in m for m in messages)
    common = await client.post(
        "/api/v1/auth/register",
        json={"username": "someone", "email": "s@example.org", "password": "Password1234"},
    )
    assert common.status_code == 422
    assert [e["message"] for e in common.json()["errors"]] == ["is too common"]
    assert await count_users(client) == 0


async def test_usernames_and_emails_are_unique_ignoring_case(client):
    await register(client, "Casey", email="casey@example.org")
    dup_name = await client.post(
        "/api/v1/auth/register",
        json={"username": "cASEY", "email": "other@example.org", "password": PASSWORD},
    )
    assert dup_name.status_code == 409
    assert dup_name.json()["code"] == "username_taken"
    dup_email = await client.post(
        "/api/v1/auth/register",
        json={"username": "casey2", "email": "CASEY@example.org", "password": PASSWORD},
    )
    assert dup_email.status_code == 409
    assert dup_email.json()["code"] == "email_taken"
    assert await count_users(client) == 1


async def test_login_by_username_or_email_and_token_works(client):
    member = await register(client, "logan", email="logan@example.org")
    me = await client.get("/api/v1/users/me", headers=member.headers)
    assert me.status_code == 200
    assert me.json()["username"] == "logan"
    by_email = await client.post(
        "/api/v1/auth/login", json={"username": "LOGAN@example.org", "password": PASSWORD}
    )
    assert by_email.status_code == 200
    assert by_email.json()["expires_in"] == 900
    assert by_email.json()["token_type"] == "bearer"


async def test_login_failures_are_indistinguishable(client):
    await register(client, "known")
    wrong = await client.post(
        "/api/v1/auth/login", json={"username": "known", "password": "wrong-password-1"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"username": "nobody_here", "password": "wrong-password-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "header", ["Bearer not.a.jwt", "Basic abc", "Bearer ", "Bearer eyJhbGciOiJub25lIn0.e30."]
)
async def test_bad_tokens_are_refused(client, header):
    reply = await client.get("/api/v1/users/me", headers={"Authorization": header})
    assert reply.status_code == 401
    assert reply.json()["code"] == "token_invalid"


async def test_expired_access_token_is_refused(make_client):
    async with make_client(access_token_ttl_seconds=-1) as client:
        member = await register(client, "expiring")
        reply = await client.get("/api/v1/users/me", headers=member.headers)
        assert reply.status_code == 401
        assert reply.json()["code"] == "token_expired"


async def test_refresh_rotates_tokens(client):
    member = await register(client, "rotor")
    reply = await client.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert reply.status_code == 200
    pair = reply.json()
    assert pair["refresh_token"] != member.refresh_token
    assert pair["session_id"] == member.session_id
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_family(client):
    member = await register(client, "victim")
    stolen = member.refresh_token
    rotated = (await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})).json()
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # the legitimate holder's newer tokens are dead too: the whole family is revoked
    newer = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert newer.status_code == 401
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 401
    assert me.json()["code"] == "session_revoked"
    # other sessions of the same user are untouched
    other = await login(client, "victim")
    assert (await client.get("/api/v1/users/me", headers=other.headers)).status_code == 200


async def test_concurrent_refresh_with_one_token_succeeds_at_most_once(client):
    member = await register(client, "racer")
    replies = await asyncio.gather(
        *[
            client.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
            for _ in range(4)
        ]
    )
    assert sum(r.status_code == 200 for r in replies) <= 1
    assert all(r.status_code in (200, 401) for r in replies)


async def test_refresh_rejects_unknown_and_malformed_tokens(client):
    unknown = await client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"})
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "invalid_refresh_token"
    missing = await client.post("/api/v1/auth/refresh", json={})
    assert missing.status_code == 422
    wrong_type = await client.post("/api/v1/auth/refresh", json={"refresh_token": 5})
    assert wrong_type.status_code == 422


async def test_logout_ends_the_session(client):
    member = await register(client, "leaver")
    reply = await client.post("/api/v1/auth/logout", headers=member.headers)
    assert reply.status_code == 204
    me = await client.get("/api/v1/users/me", headers=member.headers)
    assert me.status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": member.refresh_token}
    )
    assert refresh.status_code == 401


async def test_logout_by_refresh_token(client):
    member = await register(client, "leaver2")
    reply = await client.post("/api/v1/auth/logout", json={"refresh_token": member.refresh_token})
    assert reply.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=member.headers)).status_code == 401
    nothing = await client.post("/api/v1/auth/logout")
    assert nothing.status_code == 400


async def test_list_and_revoke_own_sessions(client):
    phone = await register(client, "multi")
    laptop = await login(client, "multi")
    sessions = (await client.get("/api/v1/auth/sessions", headers=laptop.headers)).json()
    assert {s["id"] for s in sessions} == {phone.session_id, laptop.session_id}
    assert [s["current"] for s in sessions if s["id"] == laptop.session_id] == [True]
    revoke = await client.delete(
        f"/api/v1/auth/sessions/{phone.session_id}", headers=laptop.headers
    )
    assert revoke.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=phone.headers)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=laptop.headers)).status_code == 200


async def test_cannot_revoke_someone_elses_session(client):
    alice = await register(client, "alice_s")
    mallory = await register(client, "mallory_s")
    reply = await client.delete(
        f"/api/v1/auth/sessions/{alice.session_id}", headers=mallory.headers
    )
    assert reply.status_code == 404
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
    bad = await client.delete("/api/v1/auth/sessions/99999999999999999999", headers=mallory.headers)
    assert bad.status_code == 422


async def test_revoke_other_sessions(client):
    first = await register(client, "tidy")
    second = await login(client, "tidy")
    third = await login(client, "tidy")
    reply = await client.post("/api/v1/auth/sessions/revoke-others", headers=third.headers)
    assert reply.json() == {"sessions_revoked": 2}
    assert (await client.get("/api/v1/users/me", headers=first.headers)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=second.headers)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=third.headers)).status_code == 200


async def test_change_password(client):
    member = await register(client, "changer")
    other = await login(client, "changer")
    wrong = await client.post(
        "/api/v1/users/me/password",
        headers=member.headers,
        json={"current_password": "not-my-password", "new_password": "brand-new-pass-77"},
    )
    assert wrong.status_code == 403
    weak = await client.post(
        "/api/v1/users/me/password",
        headers=member.headers,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "new_password"
    ok = await client.post(
        "/api/v1/users/me/password",
        headers=member.headers,
        json={"current_password": PASSWORD, "new_password": "brand-new-pass-77"},
    )
    assert ok.status_code == 200
    assert ok.json() == {"sessions_revoked": 1}
    assert (await client.get("/api/v1/users/me", headers=other.headers)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=member.headers)).status_code == 200
    old = await client.post(
        "/api/v1/auth/login", json={"username": "changer", "password": PASSWORD}
    )
    assert old.status_code == 401
    await login(client, "changer", password="brand-new-pass-77")


async def test_stale_sessions_are_purged_with_their_tokens(client):
    from datetime import timedelta

    from sqlalchemy import func, select

    from townsquare.core.clock import utcnow
    from townsquare.domains.accounts import actions
    from townsquare.domains.accounts.jobs import PURGE_SESSIONS_JOB, purge_sessions
    from townsquare.domains.accounts.models import LoginSession, RefreshToken
    from townsquare.infra.jobs import registry

    live = await register(client, "keeper")
    gone = await login(client, "keeper")
    await client.post("/api/v1/auth/logout", headers=gone.headers)
    db = app_ctx(client).db
    async with db.transaction() as session:
        old = await session.get(LoginSession, int(gone.session_id))
        assert old is not None
        old.revoked_at = utcnow() - timedelta(days=40)
    async with db.transaction() as session:
        recent = await actions.do_purge_stale_sessions(session, older_than=timedelta(days=41))
    assert recent == 0
    # the scheduled job does the real purge
    assert registry.schedules[PURGE_SESSIONS_JOB].every == 6 * 3600
    await purge_sessions(app_ctx(client), {})
    async with db.read() as session:
        ids = set((await session.execute(select(LoginSession.id))).scalars())
        tokens = (
            await session.execute(
                select(func.count())
                .select_from(RefreshToken)
                .where(RefreshToken.session_id == int(gone.session_id))
            )
        ).scalar_one()
    assert ids == {int(live.session_id)}
    assert tokens == 0
    assert (await client.get("/api/v1/users/me", headers=live.headers)).status_code == 200
