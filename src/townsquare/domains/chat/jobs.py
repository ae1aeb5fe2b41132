"""Background jobs of chat: tell members who are away about messages they have not read."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from townsquare.domains.chat import actions, queries
from townsquare.domains.chat.models import ChatMember, ChatMessage, ChatRoom
from townsquare.domains.notifications import actions as notifications
from townsquare.domains.notifications.actions import Target
from townsquare.domains.presence.queries import presence_service
from townsquare.infra.jobs import registry

if TYPE_CHECKING:
    from townsquare.context import AppContext


async def _messages(ctx: AppContext, payload: dict[str, Any]) -> list[ChatMessage]:
    """The messages one job covers: a window of a room (or one message, from older jobs)."""
    async with ctx.db.read() as session:
        if "message_id" in payload:
            one = await session.get(ChatMessage, int(payload["message_id"]))
            found = [] if one is None else [one]
        else:
            rows = await session.execute(
                select(ChatMessage)
                .where(
                    ChatMessage.room_id == int(payload["room_id"]),
                    ChatMessage.seq > int(payload["after_seq"]),
                    ChatMessage.created_at <= datetime.fromisoformat(payload["until"]),
                )
                .order_by(ChatMessage.seq)
            )
            found = list(rows.scalars())
    return [
        m for m in found if m.deleted_at is None and m.sender_id is not None and m.type != "system"
    ]


@registry.job(actions.NOTIFY_JOB, max_attempts=3)
async def notify_unread(ctx: AppContext, payload: dict[str, Any]) -> None:
    """Runs a short delay after a window of messages: members with no connection who still
    have not read one of them get a notification (grouped per room, one entry per sender);
    in large rooms only those mentioned do, so a busy room is no flood."""
    messages = await _messages(ctx, payload)
    if not messages:
        return
    async with ctx.db.read() as session:
        room = await session.get(ChatRoom, messages[0].room_id)
        if room is None:
            return
        rows = await session.execute(
            select(ChatMember.user_id, ChatMember.last_read_seq).where(
                ChatMember.room_id == room.id, ChatMember.last_read_seq < messages[-1].seq
            )
        )
        read_up_to = {int(u): int(s) for u, s in rows.all()}
    large = room.member_count > ctx.settings.chat_notify_max_room_size
    due: list[tuple[int, ChatMessage]] = []
    for message in messages:
        mentioned = {int(m) for m in message.data.get("mentions", [])}
        for uid, seq in read_up_to.items():
            if uid != message.sender_id and seq < message.seq and (not large or uid in mentioned):
                due.append((uid, message))
    service = presence_service(ctx)
    away = {u for u in {u for u, _ in due} if (await service.get(u)).connections == 0}
    due = [(u, m) for u, m in due if u in away]
    if not due:
        return
    async with ctx.db.transaction() as session:
        for uid, message in due:
            await notifications.notify(
                session,
                recipient_id=uid,
                type="message",
                actor_id=message.sender_id,
                target=Target("chat_room", room.id),
                data={"room_id": str(room.id), "message_id": str(message.id)},
                message=queries.preview(message.text),
            )
