"""Socket.IO events of notifications: subscribe (badge and latest entries) and mark read."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field

from townsquare.core.ids import Id
from townsquare.domains.accounts.schemas import Strict
from townsquare.domains.notifications import actions, queries
from townsquare.infra.ratelimit import Rule
from townsquare.realtime.registry import HandlerContext, registry


class Subscribe(Strict):
    limit: Annotated[int, Field(ge=0, le=50)] = 20
    unread_only: bool = False
    client_id: Annotated[str | None, Field(max_length=128)] = None


class MarkRead(Strict):
    """Either some ids (`notificationIds`) or `all: true`."""

    notification_ids: Annotated[list[Id], Field(max_length=200)] = Field(
        default_factory=list, validation_alias=AliasChoices("notificationIds", "notification_ids")
    )
    all: bool = False
    client_id: Annotated[str | None, Field(max_length=128)] = None


@registry.on("notifications:subscribe", model=Subscribe, state_changing=False)
async def subscribe(ctx: HandlerContext, data: Subscribe) -> dict[str, Any]:
    """The unread count and the newest entries; live ones follow as `notification:new`.

    Every connection is already in its user's room, so there is nothing to join.
    """
    async with ctx.app.db.read() as session:
        count = await queries.unread_count(session, user_id=ctx.user_id)
        items: list[Any] = []
        if data.limit:
            page = await queries.list_notifications(
                session,
                user_id=ctx.user_id,
                cursor=None,
                limit=data.limit,
                unread_only=data.unread_only,
            )
            items = [item.model_dump(mode="json") for item in page.items]
    return {"unread_count": count, "notifications": items}


@registry.on("notifications:mark_read", model=MarkRead, rate=Rule(120, 60))
async def mark_read(ctx: HandlerContext, data: MarkRead) -> dict[str, Any]:
    """Mark read; all the user's devices get `notification:read` with the new count."""
    async with ctx.app.db.transaction() as session:
        if data.all:
            marked, count = await actions.do_mark_all_read(session, user_id=ctx.user_id)
        else:
            marked, count = await actions.do_mark_read(
                session, user_id=ctx.user_id, notification_ids=data.notification_ids
            )
    return {"marked": marked, "unread_count": count}
