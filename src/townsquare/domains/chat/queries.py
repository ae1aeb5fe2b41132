"""Chat reads: rooms with unread counts, message history in both directions, search."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.errors import Forbidden, NotFound, ValidationFailed
from townsquare.core.pagination import Page, decode_cursor, encode_cursor
from townsquare.domains.chat import policy
from townsquare.domains.chat.models import (
    ChatMember,
    ChatMessage,
    ChatMessageEdit,
    ChatReaction,
    ChatRoom,
    ChatUserSettings,
)
from townsquare.domains.chat.schemas import (
    FileView,
    MemberView,
    MessageEditView,
    MessagePage,
    MessageView,
    ParentPreview,
    ReactionView,
    RoomView,
)
from townsquare.domains.posts.schemas import MediaView
from townsquare.domains.social import queries as social_queries
from townsquare.infra import search
from townsquare.infra.media import LocalMediaStore

PREVIEW_CHARS = 140
CHAT_DOCUMENT = "to_tsvector('simple'::regconfig, coalesce(chat_message.text, ''))"
FTS_TABLE = "ix_search_chat"


class MessageRow(Protocol):
    """What rendering reads of a message: a stored row, or one just inserted in bulk."""

    @property
    def id(self) -> int: ...
    @property
    def room_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def sender_id(self) -> int | None: ...
    @property
    def type(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def reply_to_id(self) -> int | None: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def edited_at(self) -> datetime | None: ...
    @property
    def deleted_at(self) -> datetime | None: ...


def room_channel(room_id: int) -> str:
    """The gateway room whose connections receive a chat room's messages."""
    return f"chat:{room_id}"


async def get_member(session: AsyncSession, *, room_id: int, user_id: int) -> ChatMember | None:
    return await session.get(ChatMember, (room_id, user_id))


async def member_ids(session: AsyncSession, *, room_id: int) -> list[int]:
    rows = await session.execute(select(ChatMember.user_id).where(ChatMember.room_id == room_id))
    return [int(r) for r in rows.scalars()]


async def access_room(
    session: AsyncSession, *, user_id: int, room_id: int
) -> tuple[ChatRoom, ChatMember | None]:
    """A room the user belongs to, or a public one; others are not found (never revealed)."""
    row = (
        await session.execute(
            select(ChatRoom, ChatMember)
            .outerjoin(
                ChatMember, and_(ChatMember.room_id == ChatRoom.id, ChatMember.user_id == user_id)
            )
            .where(ChatRoom.id == room_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such room")
    room, member = row
    if member is None and room.type != "public":
        raise NotFound("No such room")
    return room, member


async def access_membership(
    session: AsyncSession, *, user_id: int, room_id: int
) -> tuple[ChatRoom, ChatMember]:
    """A room the user belongs to; a public room they have not joined is a 403 `not_member`."""
    room, member = await access_room(session, user_id=user_id, room_id=room_id)
    if member is None:
        raise Forbidden("Join the room first", code="not_member")
    return room, member


async def read_receipts_on(session: AsyncSession, *, user_id: int) -> bool:
    row = await session.get(ChatUserSettings, user_id)
    return True if row is None else row.read_receipts


async def receipts_off(session: AsyncSession, *, user_ids: Sequence[int]) -> set[int]:
    """Those of the users who switched read receipts off."""
    if not user_ids:
        return set()
    rows = await session.execute(
        select(ChatUserSettings.user_id).where(
            ChatUserSettings.user_id.in_(set(user_ids)), ChatUserSettings.read_receipts.is_(False)
        )
    )
    return {int(r) for r in rows.scalars()}


def preview(text_: str) -> str:
    from townsquare.core.text import plain

    visible = " ".join(plain(text_).split())
    return visible if len(visible) <= PREVIEW_CHARS else visible[: PREVIEW_CHARS - 1] + "…"


def _attachment(data: dict[str, Any]) -> MediaView | FileView | None:
    stored = data.get("attachment")
    if stored is None:
        return None
    if stored.get("kind") == "file":
        return FileView.model_validate(stored)
    return MediaView.model_validate(stored)


async def render_messages(
    session: AsyncSession,
    *,
    viewer_id: int,
    messages: Sequence[MessageRow],
    media: LocalMediaStore,
    read_by_others: int | None = None,
    delivered_to_others: int | None = None,
    fresh: bool = False,
) -> list[MessageView]:
    """Views of messages with senders, parent previews and reactions in a few queries.

    `read_by_others` and `delivered_to_others` (the highest sequence another member has read or
    received, when the viewer may see receipts) set the status of the viewer's own messages:
    read, delivered (a device of someone else has it) or sent (stored only).
    """
    if not messages:
        return []
    ids = [m.id for m in messages]
    parent_ids = {m.reply_to_id for m in messages if m.reply_to_id}
    parents: dict[int, ChatMessage] = {}
    if parent_ids:
        rows = await session.execute(select(ChatMessage).where(ChatMessage.id.in_(parent_ids)))
        parents = {p.id: p for p in rows.scalars()}
    reactions: dict[int, dict[str, list[int]]] = defaultdict(dict)
    if not fresh:  # a message just written has no reactions yet
        rows2 = await session.execute(
            select(ChatReaction.message_id, ChatReaction.emoji, ChatReaction.user_id)
            .where(ChatReaction.message_id.in_(ids))
            .order_by(ChatReaction.created_at, ChatReaction.user_id)
        )
        for message_id, emoji, uid in rows2.all():
            reactions[message_id].setdefault(emoji, []).append(uid)
    senders = {m.sender_id for m in messages if m.sender_id is not None}
    users = await social_queries.summaries(session, user_ids=list(senders), media=media)
    views = []
    for m in messages:
        parent = parents.get(m.reply_to_id) if m.reply_to_id else None
        status = None
        if m.sender_id == viewer_id and read_by_others is not None:
            status = "read" if read_by_others >= m.seq else "sent"
            if status == "sent" and (delivered_to_others or 0) >= m.seq:
                status = "delivered"
        views.append(
            MessageView(
                id=m.id,
                room_id=m.room_id,
                seq=m.seq,
                sender=users.get(m.sender_id) if m.sender_id is not None else None,
                type=m.type,
                text="" if m.deleted_at else m.text,
                reply_to=None
                if parent is None
                else ParentPreview(
                    id=parent.id,
                    sender_id=parent.sender_id,
                    text="" if parent.deleted_at else preview(parent.text),
                    deleted=parent.deleted_at is not None,
                ),
                attachment=None if m.deleted_at else _attachment(m.data),
                mentions=[] if m.deleted_at else [int(i) for i in m.data.get("mentions", [])],
                reactions=[]
                if m.deleted_at
                else [
                    ReactionView(emoji=e, count=len(u), user_ids=u)
                    for e, u in reactions.get(m.id, {}).items()
                ],
                client_id=m.client_id if m.sender_id == viewer_id else None,
                created_at=m.created_at,
                edited_at=m.edited_at,
                deleted=m.deleted_at is not None,
                status=status,
            )
        )
    return views


async def render_message(
    session: AsyncSession,
    *,
    viewer_id: int,
    message: ChatMessage,
    media: LocalMediaStore,
    fresh: bool = False,
) -> MessageView:
    """One message's view; `fresh` skips looking for reactions a new message cannot have."""
    views = await render_messages(
        session, viewer_id=viewer_id, messages=[message], media=media, fresh=fresh
    )
    return views[0]


async def _seen_by_others(
    session: AsyncSession, *, room_id: int, viewer_id: int
) -> tuple[int | None, int | None]:
    """How far other members (with receipts on) have read and received the room, as
    (read, delivered); (None, None) when the viewer has receipts off (they see none)."""
    if not await read_receipts_on(session, user_id=viewer_id):
        return None, None
    off = select(ChatUserSettings.user_id).where(ChatUserSettings.read_receipts.is_(False))
    row = (
        await session.execute(
            select(
                func.max(ChatMember.last_read_seq), func.max(ChatMember.last_delivered_seq)
            ).where(
                ChatMember.room_id == room_id,
                ChatMember.user_id != viewer_id,
                ChatMember.user_id.not_in(off),
            )
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


async def unread_counts(
    session: AsyncSession, *, user_id: int, room_ids: Sequence[int]
) -> dict[int, int]:
    """Messages after the user's read mark, not their own, not deleted, not system notes."""
    if not room_ids:
        return {}
    rows = await session.execute(
        select(ChatMessage.room_id, func.count())
        .join(
            ChatMember,
            and_(ChatMember.room_id == ChatMessage.room_id, ChatMember.user_id == user_id),
        )
        .join(ChatRoom, ChatRoom.id == ChatMessage.room_id)
        .where(
            ChatMessage.room_id.in_(room_ids),
            ChatMessage.seq > ChatMember.last_read_seq,
            ChatMessage.seq >= _floor(),
            ChatMessage.deleted_at.is_(None),
            ChatMessage.type != "system",
            or_(ChatMessage.sender_id.is_(None), ChatMessage.sender_id != user_id),
        )
        .group_by(ChatMessage.room_id)
    )
    return {int(r): int(c) for r, c in rows.all()}


def _floor() -> ColumnElement[int]:
    """The first visible sequence (policy.sees_from) as SQL over joined room and member rows."""
    return case((ChatRoom.hide_history.is_(True), ChatMember.joined_seq + 1), else_=1)


async def room_view(
    session: AsyncSession,
    *,
    user_id: int,
    room: ChatRoom,
    member: ChatMember | None,
    media: LocalMediaStore,
    with_members: bool = False,
) -> RoomView:
    return (
        await room_views(
            session,
            user_id=user_id,
            rooms=[(room, member)],
            media=media,
            with_members=with_members,
        )
    )[0]


async def room_views(
    session: AsyncSession,
    *,
    user_id: int,
    rooms: Sequence[tuple[ChatRoom, ChatMember | None]],
    media: LocalMediaStore,
    with_members: bool = False,
) -> list[RoomView]:
    """Rooms with the caller's role, unread count and last visible message."""
    counts = await unread_counts(
        session, user_id=user_id, room_ids=[r.id for r, m in rooms if m is not None]
    )
    last_ids = [
        r.last_message_id
        for r, m in rooms
        if r.last_message_id and (m is not None or r.type == "public")
    ]
    lasts: dict[int, ChatMessage] = {}
    if last_ids:
        rows = await session.execute(select(ChatMessage).where(ChatMessage.id.in_(last_ids)))
        lasts = {m.room_id: m for m in rows.scalars()}
    visible_lasts = [
        msg
        for r, m in rooms
        if (msg := lasts.get(r.id)) is not None and (m is None or msg.seq >= policy.sees_from(r, m))
    ]
    rendered = {
        v.room_id: v
        for v in await render_messages(
            session, viewer_id=user_id, messages=visible_lasts, media=media
        )
    }
    out = []
    for room, member in rooms:
        members = None
        if with_members and member is not None:
            members = await list_members(session, room=room, viewer_id=user_id, media=media)
        out.append(
            RoomView(
                id=room.id,
                type=room.type,
                name=room.name,
                description=room.description,
                avatar_url=room.avatar_url,
                post_policy=room.post_policy,
                add_policy=room.add_policy,
                slow_mode_seconds=room.slow_mode_seconds,
                hide_history=room.hide_history,
                member_count=room.member_count,
                last_seq=room.last_seq,
                last_activity_at=room.last_activity_at,
                created_at=room.created_at,
                is_member=member is not None,
                role=member.role if member else None,
                unread_count=counts.get(room.id, 0),
                last_read_seq=member.last_read_seq if member else 0,
                last_message=rendered.get(room.id),
                members=members,
            )
        )
    return out


async def list_members(
    session: AsyncSession, *, room: ChatRoom, viewer_id: int, media: LocalMediaStore
) -> list[MemberView]:
    """Members, longest first; read marks only when viewer and member both share receipts."""
    rows = list(
        (
            await session.execute(
                select(ChatMember)
                .where(ChatMember.room_id == room.id)
                .order_by(ChatMember.joined_at, ChatMember.user_id)
            )
        ).scalars()
    )
    ids = [m.user_id for m in rows]
    users = await social_queries.summaries(session, user_ids=ids, media=media)
    off = await receipts_off(session, user_ids=ids)
    hide_all = viewer_id in off
    return [
        MemberView(
            user=users[m.user_id],
            role=m.role,
            joined_at=m.joined_at,
            last_read_seq=None if hide_all or m.user_id in off else m.last_read_seq,
        )
        for m in rows
        if m.user_id in users
    ]


async def list_rooms(
    session: AsyncSession,
    *,
    user_id: int,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[RoomView]:
    """The user's rooms, most recent activity first."""
    query = (
        select(ChatRoom, ChatMember)
        .join(ChatMember, ChatMember.room_id == ChatRoom.id)
        .where(ChatMember.user_id == user_id)
        .order_by(ChatRoom.last_activity_at.desc(), ChatRoom.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        position = decode_cursor(cursor, keys=("at", "id"))
        at, rid = position["at"], position["id"]
        if not isinstance(at, str) or not isinstance(rid, int):
            raise ValidationFailed("Malformed cursor", code="invalid_cursor")
        from datetime import datetime

        try:
            when = datetime.fromisoformat(at)
        except ValueError as exc:
            raise ValidationFailed("Malformed cursor", code="invalid_cursor") from exc
        query = query.where(
            or_(
                ChatRoom.last_activity_at < when,
                and_(ChatRoom.last_activity_at == when, ChatRoom.id < rid),
            )
        )
    rows = [(r, m) for r, m in (await session.execute(query)).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    views = await room_views(session, user_id=user_id, rooms=rows, media=media)
    next_cursor = None
    if more and rows:
        last = rows[-1][0]
        next_cursor = encode_cursor({"at": last.last_activity_at.isoformat(), "id": last.id})
    return Page(items=views, next_cursor=next_cursor)


def _seq_cursor(cursor: str) -> int:
    value = decode_cursor(cursor, keys=("seq",))["seq"]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationFailed("Malformed cursor", code="invalid_cursor")
    return value


async def list_messages(
    session: AsyncSession,
    *,
    user_id: int,
    room_id: int,
    before: str | None,
    after: str | None,
    around: int | None,
    limit: int,
    media: LocalMediaStore,
) -> MessagePage:
    """History in sequence order: the newest page, or `before`/`after` a cursor, or `around` a
    message; both cursors come back so a client can page either way from any page."""
    if sum(x is not None for x in (before, after, around)) > 1:
        raise ValidationFailed("Use one of before, after and around", code="invalid_cursor")
    room, member = await access_membership(session, user_id=user_id, room_id=room_id)
    floor = policy.sees_from(room, member)
    base = select(ChatMessage).where(ChatMessage.room_id == room_id, ChatMessage.seq >= floor)
    items: list[ChatMessage]
    if after is not None:
        start = _seq_cursor(after)
        items = list(
            (
                await session.execute(
                    base.where(ChatMessage.seq > start).order_by(ChatMessage.seq).limit(limit)
                )
            ).scalars()
        )
    elif around is not None:
        target = await session.get(ChatMessage, around)
        if target is None or target.room_id != room_id or target.seq < floor:
            raise NotFound("No such message")
        older = list(
            (
                await session.execute(
                    base.where(ChatMessage.seq < target.seq)
                    .order_by(ChatMessage.seq.desc())
                    .limit(limit // 2)
                )
            ).scalars()
        )
        newer = list(
            (
                await session.execute(
                    base.where(ChatMessage.seq >= target.seq)
                    .order_by(ChatMessage.seq)
                    .limit(limit - len(older))
                )
            ).scalars()
        )
        items = [*reversed(older), *newer]
    else:
        query = base.order_by(ChatMessage.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(ChatMessage.seq < _seq_cursor(before))
        items = list(reversed(list((await session.execute(query)).scalars())))
    read_by, delivered_to = await _seen_by_others(session, room_id=room_id, viewer_id=user_id)
    views = await render_messages(
        session,
        viewer_id=user_id,
        messages=items,
        media=media,
        read_by_others=read_by,
        delivered_to_others=delivered_to,
    )
    first = items[0].seq if items else None
    last = items[-1].seq if items else None
    before_cursor = encode_cursor({"seq": first}) if first is not None and first > floor else None
    after_cursor = None
    if last is not None and last < room.last_seq:
        after_cursor = encode_cursor({"seq": last})
    elif last is not None or after is not None:
        # caught up: a cursor to poll for what comes next
        after_cursor = encode_cursor(
            {"seq": last if last is not None else _seq_cursor(after or "")}
        )
    return MessagePage(items=views, before_cursor=before_cursor, after_cursor=after_cursor)


async def access_message(
    session: AsyncSession, *, user_id: int, message_id: int
) -> tuple[ChatRoom, ChatMember, ChatMessage]:
    """A message in a room the user belongs to and may see; otherwise not found."""
    message = await session.get(ChatMessage, message_id)
    if message is None:
        raise NotFound("No such message")
    room = await session.get(ChatRoom, message.room_id)
    member = await get_member(session, room_id=message.room_id, user_id=user_id)
    if room is None or member is None or message.seq < policy.sees_from(room, member):
        raise NotFound("No such message")
    return room, member, message


async def list_edits(
    session: AsyncSession, *, user_id: int, message_id: int
) -> list[MessageEditView]:
    """Earlier texts of a message, oldest first; gone once the message is deleted."""
    _, _, message = await access_message(session, user_id=user_id, message_id=message_id)
    if message.deleted_at is not None:
        return []
    rows = await session.execute(
        select(ChatMessageEdit)
        .where(ChatMessageEdit.message_id == message_id)
        .order_by(ChatMessageEdit.edited_at, ChatMessageEdit.id)
    )
    return [MessageEditView(text=e.text, edited_at=e.edited_at) for e in rows.scalars()]


def _matches(dialect: str, words: list[str]) -> ColumnElement[bool]:
    """Full-text condition on chat_message, in the same shape as infra/search.py's."""
    if dialect == "postgresql":
        expression = " & ".join([*words[:-1], f"{words[-1]}:*"])
        query = func.to_tsquery(literal_column("'simple'::regconfig"), expression)
        return literal_column(CHAT_DOCUMENT).op("@@")(query)
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    matches: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(text(FTS_TABLE))
        .where(text(f"{FTS_TABLE} MATCH :chat_terms").bindparams(chat_terms=" ".join(quoted)))
    )
    return ChatMessage.id.in_(matches)


async def search_messages(
    session: AsyncSession,
    *,
    user_id: int,
    q: str,
    room_id: int | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[MessageView]:
    """Messages matching every word, newest first, only in the user's rooms and only from
    when they joined where a room hides its history."""
    words = search.tokens(q)
    if not words:
        raise ValidationFailed("Search for at least one word", code="empty_query")
    if room_id is not None:
        await access_membership(session, user_id=user_id, room_id=room_id)
    dialect = session.get_bind().dialect.name
    query = (
        select(ChatMessage)
        .join(
            ChatMember,
            and_(ChatMember.room_id == ChatMessage.room_id, ChatMember.user_id == user_id),
        )
        .join(ChatRoom, ChatRoom.id == ChatMessage.room_id)
        .where(
            _matches(dialect, words),
            ChatMessage.deleted_at.is_(None),
            ChatMessage.type != "system",
            ChatMessage.seq >= _floor(),
        )
        .order_by(ChatMessage.id.desc())
        .limit(limit + 1)
    )
    if room_id is not None:
        query = query.where(ChatMessage.room_id == room_id)
    if cursor:
        value = decode_cursor(cursor, keys=("id",))["id"]
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationFailed("Malformed cursor", code="invalid_cursor")
        query = query.where(ChatMessage.id < value)
    items = list((await session.execute(query)).scalars())
    more = len(items) > limit
    items = items[:limit]
    views = await render_messages(session, viewer_id=user_id, messages=items, media=media)
    next_cursor = encode_cursor({"id": items[-1].id}) if more and items else None
    return Page(items=views, next_cursor=next_cursor)
