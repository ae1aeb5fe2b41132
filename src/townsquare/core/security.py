"""Password hashing, access tokens (JWT) and opaque refresh tokens."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from townsquare.core.clock import utcnow

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
JWT_ALGORITHM = "HS256"
_DUMMY_HASH = _hasher.hash("timing-equaliser-for-unknown-users")


def configure_hasher(profile: str) -> None:
    """Pick argon2 cost: "strong" (default) for real use, "fast" only for test suites."""
    global _hasher, _DUMMY_HASH
    if profile == "fast":
        _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    elif profile == "strong":
        _hasher = PasswordHasher()
    else:
        raise ValueError(f"unknown password hash profile {profile!r}")
    _DUMMY_HASH = _hasher.hash("timing-equaliser-for-unknown-users")


def hash_password(password: str) -> str:
    """Hash with argon2id; the salt and parameters travel inside the returned string."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; an unknown user still costs one hash so timing reveals nothing."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    """`hash_password` on a worker thread: argon2 takes ~100 ms and releases the GIL."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """`verify_password` on a worker thread, so a login never stalls other requests."""
    return await asyncio.to_thread(verify_password, password_hash, password)


def password_needs_rehash(password_hash: str) -> bool:
    """True when the stored hash predates the current argon2 parameters."""
    return _hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says: who, which session, until when."""

    user_id: int
    session_id: int
    role: str
    expires_at: datetime


class TokenError(Exception):
    """An access token that is missing, malformed, badly signed or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def create_access_token(
    *, secret: str, user_id: int, session_id: int, role: str, ttl_seconds: int
) -> tuple[str, datetime]:
    """Sign a short-lived access token; return it and its expiry."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "sid": str(session_id),
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "typ": "access",
    }
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM), expires


def decode_access_token(token: str, *, secret: str) -> AccessClaims:
    """Verify signature and expiry; raise TokenError naming why a token is refused."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "sid", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token_expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("token_invalid") from exc
    try:
        if payload.get("typ") != "access":
            raise TokenError("token_invalid")
        return AccessClaims(
            user_id=int(payload["sub"]),
            session_id=int(payload["sid"]),
            role=str(payload.get("role", "user")),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), tz=utcnow().tzinfo),
        )
    except (TypeError, ValueError) as exc:
        raise TokenError("token_invalid") from exc


def new_refresh_token() -> str:
    """An opaque refresh token with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Refresh tokens are stored as SHA-256 digests: a leaked table grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()
