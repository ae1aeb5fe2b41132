"""Socket.IO events of chat: join/leave a room's live stream, send, typing, read marks."""

from __future__ import annotations

import asyncio
from typing import Any

from townsquare.core.errors import Forbidden, NotFound
from townsquare.core.events import user_room
from townsquare.domains.chat import actions, policy, queries
from townsquare.domains.chat.schemas import RoomRef, SocketMessage, SocketRead, Typing, UserTyping
from townsquare.infra.ratelimit import Rule
from townsquare.realtime.registry import HandlerContext, registry

# (room, user) -> the timer that announces "stopped typing" unless refreshed first
_typing: dict[tuple[int, int], asyncio.TimerHandle] = {}
_expiring: set[asyncio.Task[None]] = set()


@registry.on("chat:join", model=RoomRef, state_changing=False)
async def join(ctx: HandlerContext, data: RoomRef) -> dict[str, Any]:
    """Receive the room's `chat:new_message` and `chat:message_updated` on this connection."""
    await ctx.join(queries.room_channel(data.room_id))
    return {"roomId": str(data.room_id), "joined": True}


@registry.on("chat:leave", model=RoomRef, state_changing=False)
async def leave(ctx: HandlerContext, data: RoomRef) -> dict[str, Any]:
    """Stop this connection's live stream of the room (membership is unchanged)."""
    await ctx.leave(queries.room_channel(data.room_id))
    return {"roomId": str(data.room_id), "joined": False}


@registry.room_policy("chat:")
async def may_join_chat(ctx: HandlerContext, room: str) -> None:
    """Members only; in a direct room, not while either person blocks the other."""
    try:
        room_id = int(room.removeprefix("chat:"))
    except ValueError:
        raise Forbidden("No such room", code="room_forbidden") from None
    async with ctx.app.db.read() as session:
        row, member = await queries.access_room(session, user_id=ctx.user_id, room_id=room_id)
        if member is None:
            raise Forbidden("Join the room first", code="not_member")
        if row.type == "direct" and row.direct_key:
            low, high = (int(x) for x in row.direct_key.split(":"))
            try:
                await policy.check_may_message(
                    session, actor_id=ctx.user_id, target_id=high if low == ctx.user_id else low
                )
            except Forbidden:
                raise NotFound("No such room") from None


@registry.on("chat:message", model=SocketMessage, rate="chat")
async def message(ctx: HandlerContext, data: SocketMessage) -> dict[str, Any]:
    """The same action as the REST route; the ack carries the stored message."""
    sent = await actions.send_message(
        ctx.app.db,
        user_id=ctx.user_id,
        room_id=data.room_id,
        body=data,
        media=ctx.app.media,
        notify_delay=ctx.app.settings.chat_notify_delay_seconds,
    )
    if sent.created:
        await _stop_typing(ctx, data.room_id)
    return sent.json()


@registry.on("chat:read", model=SocketRead, rate=Rule(120, 60))
async def read(ctx: HandlerContext, data: SocketRead) -> dict[str, Any]:
    """Move the read mark; receipts to members who share them, counts to one's devices."""
    async with ctx.app.db.transaction() as session:
        seq, unread = await actions.check_mark_read(
            session, user_id=ctx.user_id, room_id=data.room_id, message_id=data.message_id
        )
    return {"roomId": str(data.room_id), "lastReadSeq": seq, "unreadCount": unread}


@registry.on("chat:delivered", model=SocketRead, rate=Rule(600, 60))
async def delivered(ctx: HandlerContext, data: SocketRead) -> dict[str, Any]:
    """This device received messages up to `messageId`; senders may show them as delivered."""
    async with ctx.app.db.transaction() as session:
        seq = await actions.check_mark_delivered(
            session, user_id=ctx.user_id, room_id=data.room_id, message_id=data.message_id
        )
    return {"roomId": str(data.room_id), "lastDeliveredSeq": seq}


@registry.on("chat:typing", model=Typing, rate=Rule(60, 10), state_changing=False)
async def typing(ctx: HandlerContext, data: Typing) -> dict[str, Any]:
    """Tell the other members; it lapses after the typing TTL unless refreshed, and rooms
    above the configured size get no typing at all."""
    settings = ctx.app.settings
    async with ctx.app.db.read() as session:
        room, _ = await queries.access_membership(
            session, user_id=ctx.user_id, room_id=data.room_id
        )
        if room.member_count > settings.chat_typing_max_room_size:
            return {"relayed": False}
        others = [u for u in await queries.member_ids(session, room_id=room.id) if u != ctx.user_id]
    key = (data.room_id, ctx.user_id)
    timer = _typing.pop(key, None)
    if timer is not None:
        timer.cancel()
    await _publish(ctx, data.room_id, others, is_typing=data.is_typing)
    if data.is_typing:
        loop = asyncio.get_running_loop()
        _typing[key] = loop.call_later(
            settings.chat_typing_ttl_seconds, _spawn_expiry, ctx, data.room_id, others
        )
    return {"relayed": True}


async def _publish(
    ctx: HandlerContext, room_id: int, others: list[int], *, is_typing: bool
) -> None:
    event = UserTyping(room_id=room_id, user_id=ctx.user_id, is_typing=is_typing)
    payload = event.payload()
    await ctx.app.bus.publish_many((user_room(u), event.type, payload) for u in others)


def _spawn_expiry(ctx: HandlerContext, room_id: int, others: list[int]) -> None:
    task = asyncio.get_running_loop().create_task(_expire(ctx, room_id, others))
    _expiring.add(task)
    task.add_done_callback(_expiring.discard)


async def _expire(ctx: HandlerContext, room_id: int, others: list[int]) -> None:
    """No refresh within the TTL: the typist is no longer typing."""
    _typing.pop((room_id, ctx.user_id), None)
    await _publish(ctx, room_id, others, is_typing=False)


async def _stop_typing(ctx: HandlerContext, room_id: int) -> None:
    """A sent message ends the typing indicator at once."""
    timer = _typing.pop((room_id, ctx.user_id), None)
    if timer is None:
        return
    timer.cancel()
    async with ctx.app.db.read() as session:
        others = [u for u in await queries.member_ids(session, room_id=room_id) if u != ctx.user_id]
    await _publish(ctx, room_id, others, is_typing=False)
