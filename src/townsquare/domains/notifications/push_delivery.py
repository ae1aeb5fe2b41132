"""Web Push for one notification: the payload a service worker shows, sent to each browser."""

from __future__ import annotations

import json

from townsquare.domains.notifications.models import Notification, PushSubscription
from townsquare.infra.push import PushError, PushSender, PushTarget

URGENCY = {"low": "low", "normal": "normal", "high": "high", "urgent": "high"}
MAX_PUSH_BYTES = 3000


def push_payload(row: Notification, public_url: str) -> bytes:
    """What the service worker receives (decrypted): enough to show the notification."""
    body = {
        "id": str(row.id),
        "type": row.type,
        "category": row.category,
        "priority": row.priority,
        "title": row.title,
        "message": row.message,
        "count": row.group_count,
        "data": row.data or {},
        "url": f"{public_url}/notifications/{row.id}",
    }
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    if len(raw) > MAX_PUSH_BYTES:  # push services refuse more than ~4 KB after encryption
        body["data"] = {}
        body["message"] = row.message[:300]
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return raw


async def send_push(
    sender: PushSender, row: Notification, subs: list[PushSubscription], public_url: str
) -> tuple[list[int], list[int], str | None]:
    """Send to each of the user's browsers: (delivered ids, gone ids, first retryable error)."""
    payload = push_payload(row, public_url)
    sent: list[int] = []
    gone: list[int] = []
    error: str | None = None
    for sub in subs:
        target = PushTarget(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth)
        try:
            outcome = await sender.send(
                target, payload, urgency=URGENCY.get(row.priority, "normal")
            )
        except PushError as exc:
            error = error or str(exc)
            continue
        (gone if outcome == "gone" else sent).append(sub.id)
    return sent, gone, error
