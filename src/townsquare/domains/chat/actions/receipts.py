"""Delivery and read marks, the receipts they send and the setting that turns receipts off."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.errors import NotFound
from townsquare.core.events import emit, user_room
from townsquare.domains.chat import queries
from townsquare.domains.chat.models import ChatMember, ChatMessage, ChatUserSettings
from townsquare.domains.chat.schemas import DeliveryReceipt, ReadReceipt, UnreadChanged


async def _receipt_audience(session: AsyncSession, *, room_id: int, user_id: int) -> list[str]:
    """The other members who see receipts, as user rooms; none if the user does not share them."""
    if not await queries.read_receipts_on(session, user_id=user_id):
        return []
    others = [u for u in await queries.member_ids(session, room_id=room_id) if u != user_id]
    off = await queries.receipts_off(session, user_ids=others)
    return [user_room(u) for u in others if u not in off]


async def _tell_receipt(
    session: AsyncSession,
    kind: type[ReadReceipt] | type[DeliveryReceipt],
    *,
    user_id: int,
    message: ChatMessage,
) -> None:
    """A read or delivery receipt to the members who see receipts (if the user shares them)."""
    room_id = message.room_id
    audience = await _receipt_audience(session, room_id=room_id, user_id=user_id)
    if audience:
        receipt = kind(room_id=room_id, user_id=user_id, message_id=message.id, seq=message.seq)
        emit(session, receipt, to=audience)


async def _room_message(
    session: AsyncSession, *, user_id: int, room_id: int, message_id: int
) -> tuple[ChatMember, ChatMessage]:
    _, member = await queries.access_membership(session, user_id=user_id, room_id=room_id)
    message = await session.get(ChatMessage, message_id)
    if message is None or message.room_id != room_id:
        raise NotFound("No such message")
    return member, message


async def check_mark_delivered(
    session: AsyncSession, *, user_id: int, room_id: int, message_id: int
) -> int:
    """A device of the caller received messages up to this one: move the delivery mark forward
    (never back) and tell the members who share receipts; returns the mark."""
    member, message = await _room_message(
        session, user_id=user_id, room_id=room_id, message_id=message_id
    )
    if message.seq > member.last_delivered_seq:
        member.last_delivered_seq = message.seq
        await session.flush()
        await _tell_receipt(session, DeliveryReceipt, user_id=user_id, message=message)
    return member.last_delivered_seq


async def check_mark_read(
    session: AsyncSession, *, user_id: int, room_id: int, message_id: int
) -> tuple[int, int]:
    """Move the caller's read mark forward (never back); returns (last read seq, unread count).

    Read implies delivered. Their other devices get the new count; members who share receipts
    get a receipt, unless the reader switched receipts off.
    """
    member, message = await _room_message(
        session, user_id=user_id, room_id=room_id, message_id=message_id
    )
    if message.seq > member.last_read_seq:
        member.last_read_seq = message.seq
        member.last_delivered_seq = max(member.last_delivered_seq, message.seq)
        await session.flush()
        await _tell_receipt(session, ReadReceipt, user_id=user_id, message=message)
    counts = await queries.unread_counts(session, user_id=user_id, room_ids=[room_id])
    unread = counts.get(room_id, 0)
    emit(
        session,
        UnreadChanged(room_id=room_id, unread_count=unread, last_read_seq=member.last_read_seq),
        to=[user_room(user_id)],
    )
    return member.last_read_seq, unread


async def do_set_read_receipts(session: AsyncSession, *, user_id: int, enabled: bool) -> bool:
    row = await session.get(ChatUserSettings, user_id)
    if row is None:
        session.add(ChatUserSettings(user_id=user_id, read_receipts=enabled))
    else:
        row.read_receipts = enabled
    return enabled
