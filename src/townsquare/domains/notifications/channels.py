"""The push sender and mailer of this process, made once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from townsquare.infra.email import Mailer, SmtpConfig
from townsquare.infra.push import PushSender, load_or_create_vapid_pem

if TYPE_CHECKING:
    from townsquare.context import AppContext


_ATTR = "_townsquare_notification_channels"


@dataclass
class Channels:
    """The push sender and mailer of one process (made on first use, kept on the context)."""

    push: PushSender | None
    mailer: Mailer | None
    public_url: str
    secret: str


def process_channels(ctx: AppContext) -> Channels:
    """This process's delivery channels; push needs nothing configured, email needs SMTP."""
    found: Channels | None = getattr(ctx, _ATTR, None)
    if found is not None:
        return found
    s = ctx.settings
    push = None
    if s.push_enabled:
        push = PushSender(
            pem=load_or_create_vapid_pem(s.keys_dir),
            subject=s.push_vapid_subject,
            ttl_seconds=s.push_ttl_seconds,
            timeout_seconds=s.push_timeout_seconds,
        )
    mailer = None
    if s.smtp_host:
        mailer = Mailer(
            SmtpConfig(
                host=s.smtp_host,
                port=s.smtp_port,
                tls=s.smtp_tls,
                username=s.smtp_username,
                password=s.smtp_password,
                sender=s.smtp_from,
                timeout=s.smtp_timeout_seconds,
            )
        )
    found = Channels(push, mailer, s.notifications_public_url.rstrip("/"), ctx.jwt_secret)
    setattr(ctx, _ATTR, found)
    return found
