"""Outgoing email over SMTP with aiosmtplib: plain text plus HTML, one connection per message."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to hand mail over; `tls` is none, starttls or tls (implicit, port 465)."""

    host: str
    port: int
    tls: str
    username: str | None
    password: str | None
    sender: str
    timeout: float


class EmailError(Exception):
    """The SMTP server refused the message or could not be reached; worth retrying later."""


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str | None = None


def build_message(mail: Email, *, sender: str) -> EmailMessage:
    """A multipart/alternative message with RFC 8058 one-click unsubscribe headers."""
    # long lines rather than RFC 2047 folding: List-Unsubscribe must stay a readable <URL>
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="townsquare")
    if mail.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class Mailer:
    """Sends one message per call; a refused or unreachable server raises EmailError."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, mail: Email) -> None:
        c = self.config
        message = build_message(mail, sender=c.sender)
        try:
            await aiosmtplib.send(
                message,
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password,
                use_tls=c.tls == "tls",
                start_tls=c.tls == "starttls",
                timeout=c.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise EmailError(f"{type(exc).__name__}: {exc}"[:500]) from exc
