"""Web Push (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID) through pywebpush.

The server's VAPID key pair is generated on first run and kept under the keys directory, like the
JWT secret, so browsers' subscriptions (bound to the public key) stay valid across restarts. In a
cluster every process must use the same key: share the keys directory.
"""

from __future__ import annotations

import base64
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush_async

log = structlog.get_logger(__name__)
KEY_FILE = "vapid_private.pem"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def load_or_create_vapid_pem(keys_dir: Path) -> bytes:
    """The kept VAPID private key (PEM); created atomically so two first runs agree on one."""
    path = keys_dir / KEY_FILE
    if path.exists():
        return path.read_bytes()
    keys_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    log.info("vapid_key_created", path=str(path))
    return pem


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where and how to encrypt for one browser."""

    endpoint: str
    p256dh: str
    auth: str


PushOutcome = Literal["sent", "gone"]


class PushError(Exception):
    """The push service refused or could not be reached; worth retrying later."""


class PushSender:
    """Encrypts and posts Web Push messages signed with the server's VAPID key."""

    def __init__(
        self, *, pem: bytes, subject: str, ttl_seconds: int, timeout_seconds: float
    ) -> None:
        self._vapid = Vapid.from_pem(pem)
        self.subject = subject
        self.ttl = ttl_seconds
        self.timeout = timeout_seconds
        public = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = _b64url(public)

    async def send(
        self, target: PushTarget, payload: bytes, *, urgency: str = "normal"
    ) -> PushOutcome:
        """Deliver one message; "gone" when the subscription expired (404/410), else "sent"."""
        info: dict[str, Any] = {
            "endpoint": target.endpoint,
            "keys": {"p256dh": target.p256dh, "auth": target.auth},
        }
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                response = await webpush_async(
                    info,
                    data=payload.decode(),
                    vapid_private_key=self._vapid,
                    vapid_claims={"sub": self.subject},
                    ttl=self.ttl,
                    headers={"Urgency": urgency},
                    aiohttp_session=http,
                )
                with contextlib.suppress(Exception):
                    response.release()
        except WebPushException as exc:
            status = getattr(exc.response, "status", None) or getattr(
                exc.response, "status_code", None
            )
            if status in (404, 410):
                return "gone"
            raise PushError(f"push service answered {status}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PushError(f"push service unreachable: {type(exc).__name__}") from exc
        return "sent"
