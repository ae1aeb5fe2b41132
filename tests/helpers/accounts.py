"""Helpers that create users and sessions through the public API, as a client would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers.app import app_ctx
from townsquare.domains.accounts import queries

PASSWORD = "correct-horse-battery-9"
_counter = itertools.count(1)


@dataclass
class Member:
    """A registered, signed-in user and the tokens a client would hold."""

    id: str
    username: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_username(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}"


async def register(
    client: httpx.AsyncClient,
    username: str | None = None,
    *,
    password: str = PASSWORD,
    **extra: Any,
) -> Member:
    """Register and sign in a new member."""
    username = username or unique_username()
    email = extra.pop("email", f"{username}@example.org")
    reply = await client.post(
        "/api/v1/auth/register", json={"username": username, "email": email, "password": password}
    )
    assert reply.status_code == 201, reply.text
    return await login(client, username, password=password, email=email, user_id=reply.json()["id"])


async def login(
    client: httpx.AsyncClient,
    username: str,
    *,
    password: str = PASSWORD,
    email: str = "",
    user_id: str = "",
) -> Member:
    """Sign an existing member in, opening a new session."""
    reply = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return Member(
        id=user_id,
        username=username,
        email=email,
        password=password,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        session_id=body["session_id"],
    )


async def set_role(client: httpx.AsyncClient, username: str, role: str) -> None:
    """Give a member a role directly (the first admin has nobody to promote them)."""
    async with app_ctx(client).db.transaction() as session:
        user = await queries.get_user_by_username(session, username=username)
        assert user is not None
        user.role = role


async def make_admin(client: httpx.AsyncClient) -> Member:
    """A fresh member with the admin role; role is read from the database on each request."""
    member = await register(client, unique_username("admin"))
    await set_role(client, member.username, "admin")
    return member
