"""IDs, cursors, client addresses, password policy, tokens."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from townsquare.core.errors import ValidationFailed
from townsquare.core.ids import Id, IdGenerator
from townsquare.core.net import client_address
from townsquare.core.pagination import decode_cursor, decode_id_cursor, encode_cursor
from townsquare.core.security import TokenError, create_access_token, decode_access_token
from townsquare.domains.accounts.policy import password_problems


def test_ids_are_unique_and_increasing():
    generator = IdGenerator(node_id=5)
    ids = [generator.next_id() for _ in range(20000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(0 < i < 2**63 for i in ids)


def test_ids_from_different_nodes_differ():
    a, b = IdGenerator(1), IdGenerator(2)
    assert {a.next_id() for _ in range(1000)}.isdisjoint({b.next_id() for _ in range(1000)})
    with pytest.raises(ValueError):
        IdGenerator(1024)


def test_id_fields_serialize_as_strings():
    class Thing(BaseModel):
        id: Id

    assert Thing(id=2**60).model_dump(mode="json") == {"id": str(2**60)}
    assert Thing.model_validate({"id": "123"}).id == 123
    with pytest.raises(ValueError):
        Thing.model_validate({"id": "12a"})


def test_cursor_round_trip_and_tampering():
    cursor = encode_cursor({"id": 42})
    assert decode_id_cursor(cursor) == 42
    for bad in ("", "!!!", encode_cursor({"id": "42"}), encode_cursor({"other": 1}), "e30"):
        with pytest.raises(ValidationFailed):
            decode_id_cursor(bad)
    with pytest.raises(ValidationFailed):
        decode_cursor(encode_cursor({"id": 1, "x": 2}), keys=("id",))


def test_client_address_trusts_only_configured_proxies():
    headers = {"x-forwarded-for": "203.0.113.9, 10.0.0.2"}
    assert client_address("198.51.100.1", headers, []) == "198.51.100.1"
    assert client_address("10.0.0.2", headers, ["10.0.0.2"]) == "203.0.113.9"
    assert client_address("10.0.0.2", {}, ["10.0.0.2"]) == "10.0.0.2"


@pytest.mark.parametrize(
    ("password", "username", "expected"),
    [
        ("long-enough-pass", "someone", []),
        ("short", "someone", ["must be at least 10 characters long"]),
        ("1234567890", "someone", ["is too common"]),
        ("SomeoneElse", "someoneelse", ["must not be the same as the username"]),
        ("          ", "someone", ["must not be only whitespace"]),
    ],
)
def test_password_policy(password, username, expected):
    problems = password_problems(password, username=username)
    assert problems == expected


def test_access_tokens_verify_and_expire():
    secret = "s" * 40
    token, _ = create_access_token(
        secret=secret, user_id=7, session_id=9, role="user", ttl_seconds=60
    )
    claims = decode_access_token(token, secret=secret)
    assert (claims.user_id, claims.session_id, claims.role) == (7, 9, "user")
    with pytest.raises(TokenError) as wrong_secret:
        decode_access_token(token, secret="t" * 40)
    assert wrong_secret.value.reason == "token_invalid"
    expired, _ = create_access_token(
        secret=secret, user_id=7, session_id=9, role="user", ttl_seconds=-5
    )
    with pytest.raises(TokenError) as old:
        decode_access_token(expired, secret=secret)
    assert old.value.reason == "token_expired"
