"""HTTP routes of notifications: the list, read state, preferences, Web Push, unsubscribe."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from townsquare.core.clock import utcnow
from townsquare.core.errors import BadRequest, ValidationFailed
from townsquare.core.pagination import Page
from townsquare.core.params import Cursor, IdPath, Limit
from townsquare.domains.accounts.dependencies import AdminUser, Ctx, CurrentUser
from townsquare.domains.notifications import actions, channels, policy, queries
from townsquare.domains.notifications.jobs import ANNOUNCE_JOB
from townsquare.domains.notifications.schemas import (
    AnnouncementCreate,
    AnnouncementQueued,
    MarkReadRequest,
    MarkReadResult,
    NotificationView,
    Preferences,
    PreferencesUpdate,
    PushPublicKey,
    PushSubscriptionCreate,
    PushSubscriptionView,
    UnreadCount,
)

router = APIRouter(prefix="/api/v1")
Token = Annotated[str, Query(min_length=1, max_length=200)]


@router.get("/realtime/notifications", tags=["notifications"])
async def list_notifications(
    ctx: Ctx,
    principal: CurrentUser,
    cursor: Cursor = None,
    limit: Limit = 20,
    unread_only: bool = False,
) -> Page[NotificationView]:
    """The caller's notifications, most recent activity first."""
    async with ctx.db.read() as session:
        return await queries.list_notifications(
            session, user_id=principal.user_id, cursor=cursor, limit=limit, unread_only=unread_only
        )


@router.get("/realtime/notifications/unread-count", tags=["notifications"])
async def unread_count(ctx: Ctx, principal: CurrentUser) -> UnreadCount:
    """The number for the badge."""
    async with ctx.db.read() as session:
        return UnreadCount(
            unread_count=await queries.unread_count(session, user_id=principal.user_id)
        )


@router.put("/realtime/notifications/read", tags=["notifications"])
async def mark_read(body: MarkReadRequest, ctx: Ctx, principal: CurrentUser) -> MarkReadResult:
    """Mark notifications read; every device of the caller gets the new unread count."""
    async with ctx.db.transaction() as session:
        marked, count = await actions.do_mark_read(
            session, user_id=principal.user_id, notification_ids=body.notification_ids
        )
    return MarkReadResult(marked=marked, unread_count=count)


@router.put("/realtime/notifications/read-all", tags=["notifications"])
async def mark_all_read(ctx: Ctx, principal: CurrentUser) -> MarkReadResult:
    """Mark every notification read."""
    async with ctx.db.transaction() as session:
        marked, count = await actions.do_mark_all_read(session, user_id=principal.user_id)
    return MarkReadResult(marked=marked, unread_count=count)


@router.get("/notifications/preferences", tags=["notifications"])
async def get_preferences(ctx: Ctx, principal: CurrentUser) -> Preferences:
    """Channels per category, quiet hours, and the digest and timezone from the profile."""
    async with ctx.db.read() as session:
        return await queries.get_preferences(session, user_id=principal.user_id)


@router.put("/notifications/preferences", tags=["notifications"])
async def update_preferences(
    body: PreferencesUpdate, ctx: Ctx, principal: CurrentUser
) -> Preferences:
    """Change channels of some categories and/or quiet hours; omitted parts stay."""
    async with ctx.db.transaction() as session:
        await actions.do_update_preferences(session, user_id=principal.user_id, changes=body)
        return await queries.get_preferences(session, user_id=principal.user_id)


@router.get("/notifications/push/public-key", tags=["notifications"])
async def push_public_key(ctx: Ctx) -> PushPublicKey:
    """The server's VAPID key, the `applicationServerKey` browsers subscribe with."""
    sender = channels.process_channels(ctx).push
    if sender is None:
        raise BadRequest("Web Push is switched off on this server", code="push_disabled")
    return PushPublicKey(public_key=sender.public_key)


@router.get("/notifications/push/subscriptions", tags=["notifications"])
async def list_push_subscriptions(ctx: Ctx, principal: CurrentUser) -> list[PushSubscriptionView]:
    """The caller's browsers that receive Web Push."""
    async with ctx.db.read() as session:
        return await queries.list_push_subscriptions(session, user_id=principal.user_id)


@router.post("/notifications/push/subscriptions", status_code=201, tags=["notifications"])
async def add_push_subscription(
    body: PushSubscriptionCreate, request: Request, ctx: Ctx, principal: CurrentUser
) -> PushSubscriptionView:
    """Register this browser's PushSubscription (`subscription.toJSON()`)."""
    if ctx.settings.push_https_only and not body.endpoint.startswith("https://"):
        raise ValidationFailed(
            "Push endpoints must use https", code="insecure_endpoint"
        )  # the server POSTs there: plain http would let anyone aim it at internal services
    async with ctx.db.transaction() as session:
        row = await actions.do_add_push_subscription(
            session,
            user_id=principal.user_id,
            body=body,
            user_agent=request.headers.get("user-agent"),
        )
    return PushSubscriptionView(
        id=row.id,
        endpoint=row.endpoint,
        user_agent=row.user_agent,
        created_at=row.created_at,
        last_success_at=row.last_success_at,
    )


@router.delete(
    "/notifications/push/subscriptions/{subscription_id}", status_code=204, tags=["notifications"]
)
async def remove_push_subscription(
    subscription_id: IdPath, ctx: Ctx, principal: CurrentUser
) -> Response:
    """Stop Web Push to one browser."""
    async with ctx.db.transaction() as session:
        await actions.check_remove_push_subscription(
            session, user_id=principal.user_id, subscription_id=subscription_id
        )
    return Response(status_code=204)


def _unsubscribe_target(ctx: Ctx, token: str) -> tuple[int, str]:
    found = policy.read_unsubscribe_token(ctx.jwt_secret, token)
    if found is None:
        raise BadRequest("This unsubscribe link is not valid", code="invalid_token")
    return found


@router.get("/notifications/unsubscribe", tags=["notifications"], response_class=HTMLResponse)
async def unsubscribe_page(token: Token, ctx: Ctx) -> HTMLResponse:
    """The page an email's unsubscribe link opens: one button, no sign-in (link scanners
    following GET links therefore change nothing)."""
    _, category = _unsubscribe_target(ctx, token)
    label = html.escape(category.replace("_", " "))
    page = (
        "<!doctype html><html><body><h1>Unsubscribe</h1>"
        f"<p>Stop emails about {label}?</p>"
        f'<form method="post" action="?token={html.escape(token)}">'
        '<button type="submit">Unsubscribe</button></form></body></html>'
    )
    return HTMLResponse(page)


@router.post("/notifications/unsubscribe", tags=["notifications"], response_class=HTMLResponse)
async def unsubscribe(token: Token, ctx: Ctx) -> HTMLResponse:
    """Switch one category's email off (also the RFC 8058 one-click POST of mail clients)."""
    user_id, category = _unsubscribe_target(ctx, token)
    async with ctx.db.transaction() as session:
        await actions.do_set_channel(
            session, user_id=user_id, category=category, channel="email", on=False
        )
    label = html.escape(category.replace("_", " "))
    return HTMLResponse(
        f"<!doctype html><html><body><p>You will no longer get emails about {label}.</p>"
        "</body></html>"
    )


@router.post("/admin/notifications/announcements", status_code=202, tags=["admin"])
async def announce(body: AnnouncementCreate, ctx: Ctx, principal: AdminUser) -> AnnouncementQueued:
    """Notify every active user; a background job fans it out in batches."""
    payload: dict[str, object] = {
        "title": body.title,
        "message": body.message,
        "priority": body.priority,
        "data": body.data or {},
    }
    if body.expires_in_hours:
        payload["expires_at"] = (utcnow() + timedelta(hours=body.expires_in_hours)).isoformat()
    job_id = await ctx.jobs.enqueue(ANNOUNCE_JOB, payload)
    return AnnouncementQueued(job_id=int(job_id))
