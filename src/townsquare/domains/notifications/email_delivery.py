"""One notification as an email, with the unsubscribe link of its category."""

from __future__ import annotations

import html

from townsquare.domains.notifications import policy
from townsquare.domains.notifications.channels import Channels
from townsquare.domains.notifications.models import Notification
from townsquare.infra.email import Email


def unsubscribe_url(ch: Channels, *, user_id: int, category: str) -> str:
    """The link that switches off email for this category, signed so it needs no login."""
    token = policy.unsubscribe_token(ch.secret, user_id=user_id, category=category)
    return f"{ch.public_url}/api/v1/notifications/unsubscribe?token={token}"


def notification_email(ch: Channels, row: Notification, *, to: str, name: str) -> Email:
    """One notification as a plain-text and HTML email with its category's unsubscribe link."""
    link = f"{ch.public_url}/notifications/{row.id}"
    unsubscribe = unsubscribe_url(ch, user_id=row.recipient_id, category=row.category)
    lines = [f"Hi {name},", "", row.title]
    if row.message:
        lines += ["", row.message]
    lines += [
        "",
        f"Open: {link}",
        "",
        f"Stop emails about {row.category.replace('_', ' ')}: {unsubscribe}",
    ]
    body = (
        f"<p>Hi {html.escape(name)},</p><p><strong>{html.escape(row.title)}</strong></p>"
        + (f"<p>{html.escape(row.message)}</p>" if row.message else "")
        + f'<p><a href="{html.escape(link)}">Open townsquare</a></p>'
        + f'<p style="font-size:small"><a href="{html.escape(unsubscribe)}">'
        + f"Stop emails about {html.escape(row.category.replace('_', ' '))}</a></p>"
    )
    return Email(
        to=to,
        subject=" ".join(row.title.split()),  # names may hold line breaks; headers may not
        text="\n".join(lines) + "\n",
        html=f"<html><body>{body}</body></html>",
        unsubscribe_url=unsubscribe,
    )
