"""Email over SMTP against a real local aiosmtpd server: per-notification mail with a working
login-free unsubscribe link, digests at the user's local morning."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.helpers.accounts import register
from tests.helpers.app import app_ctx
from tests.helpers.notifications import FAST_JOBS, notify
from townsquare.domains.notifications import digests, policy
from townsquare.domains.notifications.actions import Target


class Inbox:
    """Collects every message the local SMTP server accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = (
            envelope.content
            if isinstance(envelope.content, bytes)
            else str(envelope.content).encode()
        )
        self.messages.append((envelope, email.message_from_bytes(raw, policy=email.policy.default)))
        return "250 Message accepted"

    def to(self, address: str) -> list[Message]:
        return [m for env, m in self.messages if address in env.rcpt_tos]


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="localhost"), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def mail_client(make_client: Any, inbox: Inbox) -> AsyncIterator[httpx.AsyncClient]:
    settings = {
        **FAST_JOBS,
        "smtp_host": "127.0.0.1",
        "smtp_port": inbox.port,
        "smtp_tls": "none",
        "smtp_from": "Town Square <noreply@town.example>",
        "notifications_public_url": "https://town.example",
        "push_enabled": False,
    }
    async with make_client(**settings) as c:
        yield c


def parts(message: Message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


async def test_a_notification_email_has_text_html_and_a_working_unsubscribe(mail_client, inbox):
    client = mail_client
    ana = await register(client, "anamail")
    ben = await register(client, "benmail")
    # friend requests email by default
    await notify(client, recipient_id=ana.id, type="friend_request", actor_id=ben.id)
    await app_ctx(client).jobs.idle()
    [message] = inbox.to(ana.email)
    assert message["Subject"] == "benmail sent you a friend request"
    assert message["From"] == "Town Square <noreply@town.example>"
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    assert "Hi anamail," in body["text/plain"]
    assert "<strong>benmail sent you a friend request</strong>" in body["text/html"]
    links = re.findall(
        r"https://town\.example/api/v1/notifications/unsubscribe\?token=\S+", body["text/plain"]
    )
    assert len(links) == 1
    unsubscribe = links[0]
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in body["text/html"].replace("&amp;", "&")

    path = urlsplit(unsubscribe)
    local = f"{path.path}?{path.query}"
    page = await client.get(local)  # no sign-in; a GET (link scanners) changes nothing
    assert page.status_code == 200 and "friend requests" in page.text
    prefs = (await client.get("/api/v1/notifications/preferences", headers=ana.headers)).json()
    assert prefs["categories"]["friend_requests"]["email"] is True
    done = await client.post(local)
    assert done.status_code == 200
    prefs = (await client.get("/api/v1/notifications/preferences", headers=ana.headers)).json()
    assert prefs["categories"]["friend_requests"] == {"in_app": True, "push": True, "email": False}
    # other categories keep emailing; this one no longer does
    await notify(client, recipient_id=ana.id, type="friend_request", actor_id=ben.id)
    await notify(client, recipient_id=ana.id, type="message", actor_id=ben.id)
    await app_ctx(client).jobs.idle()
    subjects = [m["Subject"] for m in inbox.to(ana.email)][1:]
    assert subjects == ["benmail sent you a message"]


async def test_forged_unsubscribe_tokens_are_refused(mail_client):
    client = mail_client
    ana = await register(client)
    ctx = app_ctx(client)
    good = policy.unsubscribe_token(ctx.jwt_secret, user_id=int(ana.id), category="likes")
    forged = [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        policy.unsubscribe_token(
            "another-secret-entirely-000000000", user_id=int(ana.id), category="likes"
        ),
        good.replace("likes", "system"),
        "1.likes",
        "x" * 150,
    ]
    for token in forged:
        for method in ("GET", "POST"):
            reply = await client.request(
                method, "/api/v1/notifications/unsubscribe", params={"token": token}
            )
            assert reply.status_code == 400, (method, token)
            assert reply.json()["code"] == "invalid_token"
    assert (await client.post("/api/v1/notifications/unsubscribe")).status_code == 422


async def test_categories_without_email_and_online_users_get_none(mail_client, inbox):
    client = mail_client
    ana = await register(client)
    ben = await register(client)
    await notify(
        client, recipient_id=ana.id, type="like", actor_id=ben.id, target=Target("post", 1)
    )
    await app_ctx(client).jobs.idle()
    assert inbox.to(ana.email) == []  # likes do not email by default


async def test_an_unreachable_smtp_server_is_retried(make_client, inbox):
    async with make_client(
        **{
            **FAST_JOBS,
            "smtp_host": "127.0.0.1",
            "smtp_port": 1,
            "smtp_tls": "none",
            "push_enabled": False,
        }
    ) as client:
        ana = await register(client)
        ben = await register(client)
        await notify(client, recipient_id=ana.id, type="message", actor_id=ben.id)
        ctx = app_ctx(client)
        for _ in range(1000):
            if await ctx.jobs.list_dead(limit=1):
                break
            await asyncio.sleep(0.02)
        [dead] = await ctx.jobs.list_dead(limit=1)
        assert dead.name == "notifications.deliver" and dead.attempts == 6
        assert "SMTP" in (dead.last_error or "") or "Connect" in (dead.last_error or "")


def _next_morning(zone: str, hour: int, *, monday: bool = False) -> datetime:
    """The next instant (from now) when it is `hour`:15 local time in `zone`."""
    local = datetime.now(ZoneInfo(zone)).replace(hour=hour, minute=15, second=0, microsecond=0)
    while local <= datetime.now(ZoneInfo(zone)) or (monday and local.weekday() != 0):
        local = (local + timedelta(days=1)).replace(tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


async def test_digests_go_out_in_the_local_morning_once(mail_client, inbox):
    client = mail_client
    ctx = app_ctx(client)
    tokyo = await register(client, "tokyo")
    lisbon = await register(client, "lisbon")
    never = await register(client, "never")
    ben = await register(client, "benny")
    await client.patch(
        "/api/v1/users/me",
        headers=tokyo.headers,
        json={"notifications": {"digest": "daily", "timezone": "Asia/Tokyo"}},
    )
    await client.patch(
        "/api/v1/users/me",
        headers=lisbon.headers,
        json={"notifications": {"digest": "weekly", "timezone": "Europe/Lisbon"}},
    )
    await client.patch(
        "/api/v1/users/me", headers=never.headers, json={"notifications": {"digest": "never"}}
    )
    # benny is notified of tokyo's follow; keep his (UTC, weekly) digest out of the count
    await client.patch(
        "/api/v1/users/me", headers=ben.headers, json={"notifications": {"digest": "never"}}
    )
    for who in (tokyo, lisbon, never):
        for n in range(3):
            await notify(
                client,
                recipient_id=who.id,
                type="like",
                actor_id=ben.id,
                target=Target("post", n + 1),
            )
        await notify(client, recipient_id=who.id, type="comment", actor_id=ben.id, message="hello")
    # top posts from the network: tokyo follows ben, who posts
    await client.put(f"/api/v1/following/{ben.username}", headers=tokyo.headers)
    posted = await client.post(
        "/api/v1/posts", headers=ben.headers, json={"text": "<b>Sunrise</b> over the harbour"}
    )
    assert posted.status_code == 201, posted.text
    await ctx.jobs.idle()
    inbox.messages.clear()

    hour = ctx.settings.notifications_digest_hour
    # the Tokyo morning: only the daily Tokyo digest
    assert await digests.send_due_digests(ctx, now=_next_morning("Asia/Tokyo", hour)) == 1
    [digest] = inbox.to(tokyo.email)
    # 3 likes + 1 comment, and the new post of benny, whom tokyo follows
    assert digest["Subject"] == "Your daily townsquare digest: 5 unread notifications"
    text = parts(digest)["text/plain"]
    assert "- benny liked your post" in text and "- benny commented on your post" in text
    assert "unsubscribe?token=" in text and digest["List-Unsubscribe"]
    assert "Top posts from your network:" in text
    assert (
        f"- benny: Sunrise over the harbour (https://town.example/posts/{posted.json()['id']})"
        in text
    )
    assert "<strong>benny</strong>" in parts(digest)["text/html"]
    # lisbon follows nobody: no top posts section

    # the same morning again: already sent
    assert await digests.send_due_digests(ctx, now=_next_morning("Asia/Tokyo", hour)) == 0
    # a Lisbon Monday morning: the weekly Lisbon digest
    assert (
        await digests.send_due_digests(ctx, now=_next_morning("Europe/Lisbon", hour, monday=True))
        == 1
    )
    [weekly] = inbox.to(lisbon.email)
    assert "Top posts" not in parts(weekly)["text/plain"]
    assert weekly["Subject"] == "Your weekly townsquare digest: 4 unread notifications"
    # afternoon: nothing; the user with digests off never gets one
    assert (
        await digests.send_due_digests(
            ctx, now=_next_morning("Europe/Lisbon", hour, monday=True) + timedelta(hours=5)
        )
        == 0
    )
    assert inbox.to(never.email) == []
    # nothing unread: no digest the next day either
    await client.put("/api/v1/realtime/notifications/read-all", headers=tokyo.headers)
    next_day = _next_morning("Asia/Tokyo", hour) + timedelta(days=1)
    assert await digests.send_due_digests(ctx, now=next_day) == 0


def test_digests_and_cleanup_are_scheduled() -> None:
    from townsquare.wiring import job_registry

    schedules = job_registry().schedules
    assert schedules["notifications.digest"].every == 900
    assert schedules["notifications.cleanup"].every == 3600


async def test_a_line_break_in_a_name_cannot_inject_headers(mail_client, inbox):
    client = mail_client
    ana = await register(client)
    ben = await register(client)
    reply = await client.patch(
        "/api/v1/users/me", headers=ben.headers, json={"display_name": "Ben\nBcc: x@evil.example"}
    )
    assert reply.status_code == 200
    await notify(client, recipient_id=ana.id, type="mention", actor_id=ben.id)
    await app_ctx(client).jobs.idle()
    [message] = inbox.to(ana.email)
    assert message["Subject"] == "Ben Bcc: x@evil.example mentioned you in a post"
    assert message["Bcc"] is None
    assert all(r == ana.email for env, _ in inbox.messages for r in env.rcpt_tos)
