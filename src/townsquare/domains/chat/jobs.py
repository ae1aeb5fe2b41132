"""Background jobs of chat: tell members who are away about a message they have not read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from townsquare.domains.chat import actions, queries
from townsquare.domains.chat.models import ChatMember, ChatMessage, ChatRoom
from townsquare.domains.notifications import actions as notifications
from townsquare.domains.notifications.actions import Target
from townsquare.infra.jobs import registry
from townsquare.realtime.presence_service import presence_service

if TYPE_CHECKING:
    from townsquare.context import AppContext


@registry.job(actions.NOTIFY_JOB, max_attempts=3)
async def notify_unread(ctx: AppContext, payload: dict[str, Any]) -> None:
    """Runs a short delay after a message: members with no connection who still have not read
    it get a notification; in large rooms only those mentioned do, so a busy room is no flood."""
    message_id = int(payload["message_id"])
    async with ctx.db.read() as session:
        message = await session.get(ChatMessage, message_id)
        if message is None or message.deleted_at is not None or message.sender_id is None:
            return
        room = await session.get(ChatRoom, message.room_id)
        if room is None:
            return
        rows = await session.execute(
            select(ChatMember.user_id).where(
                ChatMember.room_id == room.id,
                ChatMember.user_id != message.sender_id,
                ChatMember.last_read_seq < message.seq,
            )
        )
        unread = [int(u) for u in rows.scalars()]
    mentioned = {int(m) for m in message.data.get("mentions", [])}
    if room.member_count > ctx.settings.chat_notify_max_room_size:
        unread = [u for u in unread if u in mentioned]
    service = presence_service(ctx)
    away = [u for u in unread if (await service.get(u)).connections == 0]
    if not away:
        return
    preview = queries.preview(message.text)
    async with ctx.db.transaction() as session:
        for uid in away:
            await notifications.notify(
                session,
                recipient_id=uid,
                type="message",
                actor_id=message.sender_id,
                target=Target("chat_room", room.id),
                data={"room_id": str(room.id), "message_id": str(message.id)},
                message=preview,
            )
