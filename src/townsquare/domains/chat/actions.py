"""Every chat write and the events it publishes after commit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, delete, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from townsquare.core.clock import utcnow
from townsquare.core.db import Database
from townsquare.core.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from townsquare.core.events import emit, user_room
from townsquare.core.ids import new_id
from townsquare.core.text import find_mentions, plain, sanitize
from townsquare.domains.accounts import queries as account_queries
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.chat import files, policy, queries
from townsquare.domains.chat.models import (
    ChatMember,
    ChatMessage,
    ChatMessageEdit,
    ChatReaction,
    ChatRoom,
    ChatUserSettings,
)
from townsquare.domains.chat.schemas import (
    MAX_TEXT,
    CreateRoom,
    DeliveryReceipt,
    FileView,
    MessageUpdated,
    MessageView,
    NewMessage,
    ReadReceipt,
    RoomChanged,
    SendMessage,
    UnreadChanged,
    UpdateRoom,
)
from townsquare.domains.posts import actions as posts_actions
from townsquare.domains.posts import queries as posts_queries
from townsquare.domains.posts.schemas import MediaView
from townsquare.domains.social import actions as social_actions
from townsquare.infra import images, jobs
from townsquare.infra.media import LocalMediaStore
from townsquare.realtime.rooms import evict_from_room

NOTIFY_JOB = "chat.notify"
# what makes the sanitizer's output differ from the input (markup, entities, CR, NUL, NBSP, BOM)
NEEDS_SANITIZER = re.compile("[<>&\r\x00\u00a0\ufeff]")
NOTIFY_WINDOW_SECONDS = 5.0
MAX_MEMBERS = 1000


@dataclass(frozen=True, slots=True)
class Sent:
    """A stored message as its sender sees it; `created` is False for a recognised resend.

    `wire` is the same message already in JSON form when the send path has it (the socket
    ack reuses the serialisation done for the room's event instead of dumping it again).
    """

    message: MessageView
    created: bool
    wire: dict[str, Any] | None = None

    def json(self) -> dict[str, Any]:
        """The message as JSON for an ack."""
        return self.wire if self.wire is not None else self.message.model_dump(mode="json")


def _direct_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


@social_actions.on_block
async def _close_direct_stream(session: AsyncSession, blocker_id: int, blocked_id: int) -> None:
    """A block ends both people's live stream of their direct room (neither may write there
    while it stands, and the room policy refuses rejoining)."""
    room_id = await session.scalar(
        select(ChatRoom.id).where(ChatRoom.direct_key == _direct_key(blocker_id, blocked_id))
    )
    if room_id is not None:
        evict_from_room(
            session, room=queries.room_channel(room_id), user_ids=[blocker_id, blocked_id]
        )


async def _existing_users(session: AsyncSession, user_ids: list[int]) -> list[int]:
    found = []
    for uid in dict.fromkeys(user_ids):
        user = await account_queries.get_user(session, user_id=uid)
        if user is None or user.status == "banned":
            raise ValidationFailed("No such user", code="unknown_user", user_id=str(uid))
        found.append(uid)
    return found


async def _add_member(
    session: AsyncSession, *, room: ChatRoom, user_id: int, role: str = "member"
) -> ChatMember:
    if room.member_count >= MAX_MEMBERS:
        raise Conflict(f"A room holds at most {MAX_MEMBERS} members", code="room_full")
    member = ChatMember(
        room_id=room.id,
        user_id=user_id,
        role=role,
        joined_at=utcnow(),
        joined_seq=room.last_seq,
        last_read_seq=room.last_seq,
    )
    session.add(member)
    room.member_count += 1
    await session.flush()
    return member


async def _next_seq(session: AsyncSession, room: ChatRoom, message_id: int) -> int:
    """Take the room's next sequence for `message_id` in one statement; on PostgreSQL the row
    lock orders concurrent senders of the room."""
    now = utcnow()
    seq = await session.scalar(
        update(ChatRoom)
        .where(ChatRoom.id == room.id)
        .values(last_seq=ChatRoom.last_seq + 1, last_activity_at=now, last_message_id=message_id)
        .returning(ChatRoom.last_seq)
        .execution_options(synchronize_session=False)
    )
    assert seq is not None
    # mirror the row without marking it dirty (no second UPDATE at flush)
    set_committed_value(room, "last_seq", int(seq))
    set_committed_value(room, "last_activity_at", now)
    set_committed_value(room, "last_message_id", message_id)
    return int(seq)


async def _system(
    session: AsyncSession,
    *,
    room: ChatRoom,
    actor_id: int | None,
    event: str,
    text: str,
    media: LocalMediaStore,
    subject_id: int | None = None,
) -> ChatMessage:
    """A system note (joins, leaves, renames) in the room's sequence, told to the room."""
    message_id = new_id()
    seq = await _next_seq(session, room, message_id)
    data: dict[str, object] = {"event": event}
    if subject_id is not None:
        data["user_id"] = str(subject_id)
    message = ChatMessage(
        id=message_id,
        room_id=room.id,
        seq=seq,
        sender_id=actor_id,
        type="system",
        text=text,
        data=data,
        created_at=utcnow(),
    )
    session.add(message)
    await session.flush()
    view = await queries.render_message(
        session, viewer_id=0, message=message, media=media, fresh=True
    )
    emit(session, NewMessage(room_id=room.id, message=view), to=[queries.room_channel(room.id)])
    return message


async def _membership_changed(
    session: AsyncSession,
    *,
    room: ChatRoom,
    actor_id: int,
    user_id: int,
    event: str,
    text: str,
    media: LocalMediaStore,
) -> None:
    """Someone joined, left, was added or removed: a system note in the room's history and
    `chat:room_updated` to the room and to them."""
    await _system(
        session,
        room=room,
        actor_id=actor_id,
        event=event,
        text=text,
        media=media,
        subject_id=user_id,
    )
    _tell(session, room.id, event, user_id)


async def _name(session: AsyncSession, user_id: int) -> str:
    user = await account_queries.get_user(session, user_id=user_id)
    if user is None:
        return "someone"
    return user.display_name or user.username


def _tell(session: AsyncSession, room_id: int, change: str, *users: int) -> None:
    emit(
        session,
        RoomChanged(room_id=room_id, change=change, user_id=users[0] if users else None),
        to=[queries.room_channel(room_id), *(user_room(u) for u in users)],
    )


# rooms -------------------------------------------------------------------------------------------


async def check_create_room(
    session: AsyncSession, *, creator_id: int, body: CreateRoom, media: LocalMediaStore
) -> tuple[ChatRoom, bool]:
    """Create a room with its first members; a direct room that exists is returned as it is."""
    others = [u for u in dict.fromkeys(body.member_ids) if u != creator_id]
    if body.type == "direct":
        if len(others) != 1 or body.name is not None:
            raise ValidationFailed(
                "A direct room has exactly one other member and no name", code="invalid_direct"
            )
        key = _direct_key(creator_id, others[0])
        existing = await session.scalar(select(ChatRoom).where(ChatRoom.direct_key == key))
        if existing is not None:
            member = await queries.get_member(session, room_id=existing.id, user_id=creator_id)
            if member is not None:
                return existing, False
    elif body.name is None:
        raise ValidationFailed("This room needs a name", code="name_required")
    await _existing_users(session, others)
    for uid in others:
        await policy.check_may_message(session, actor_id=creator_id, target_id=uid)
    if body.type == "direct":
        existing = await session.scalar(
            select(ChatRoom).where(ChatRoom.direct_key == _direct_key(creator_id, others[0]))
        )
        if existing is not None:  # the creator had left it: back in, same conversation
            await _add_member(session, room=existing, user_id=creator_id)
            return existing, False
    now = utcnow()
    room = ChatRoom(
        id=new_id(),
        type=body.type,
        name=body.name,
        description=body.description,
        avatar_url=body.avatar_url,
        direct_key=_direct_key(creator_id, others[0]) if body.type == "direct" else None,
        created_by=creator_id,
        post_policy="everyone",
        add_policy="everyone" if body.type == "direct" else "admins",
        slow_mode_seconds=0,
        hide_history=body.hide_history,
        member_count=0,
        last_seq=0,
        last_activity_at=now,
        created_at=now,
    )
    session.add(room)
    await session.flush()
    await _add_member(
        session, room=room, user_id=creator_id, role="member" if body.type == "direct" else "admin"
    )
    for uid in others:
        await _add_member(session, room=room, user_id=uid)
    for uid in [creator_id, *others]:
        emit(session, RoomChanged(room_id=room.id, change="created"), to=[user_room(uid)])
    return room, True


async def check_join(
    session: AsyncSession, *, user_id: int, room_id: int, media: LocalMediaStore
) -> ChatRoom:
    """Join a public room (anyone may); others are joined by being added."""
    room, member = await queries.access_room(session, user_id=user_id, room_id=room_id)
    if member is not None:
        return room
    if room.type != "public":
        raise NotFound("No such room")
    await _add_member(session, room=room, user_id=user_id)
    await _membership_changed(
        session,
        room=room,
        actor_id=user_id,
        user_id=user_id,
        event="joined",
        text=f"{await _name(session, user_id)} joined",
        media=media,
    )
    return room


async def _remove(
    session: AsyncSession, *, room: ChatRoom, member: ChatMember, actor_id: int
) -> None:
    """Drop a member (and their open connections from the room's live stream); when the last
    admin goes, the longest-standing member becomes admin."""
    was_admin = member.role == "admin"
    evict_from_room(session, room=queries.room_channel(room.id), user_ids=[member.user_id])
    await session.delete(member)
    room.member_count -= 1
    await session.flush()
    if not was_admin or room.type == "direct":
        return
    admins = await session.scalar(
        select(ChatMember.user_id)
        .where(ChatMember.room_id == room.id, ChatMember.role == "admin")
        .limit(1)
    )
    if admins is not None:
        return
    heir = await session.scalar(
        select(ChatMember)
        .where(ChatMember.room_id == room.id)
        .order_by(ChatMember.joined_at, ChatMember.user_id)
        .limit(1)
    )
    if heir is not None:
        heir.role = "admin"
        _tell(session, room.id, "promoted", heir.user_id)


async def check_leave(
    session: AsyncSession, *, user_id: int, room_id: int, media: LocalMediaStore
) -> None:
    """Leave a room; a direct room is left too (writing again brings one back)."""
    room, member = await queries.access_membership(session, user_id=user_id, room_id=room_id)
    await _remove(session, room=room, member=member, actor_id=user_id)
    await _membership_changed(
        session,
        room=room,
        actor_id=user_id,
        user_id=user_id,
        event="left",
        text=f"{await _name(session, user_id)} left",
        media=media,
    )


async def check_add_member(
    session: AsyncSession, *, actor_id: int, room_id: int, user_id: int, media: LocalMediaStore
) -> None:
    """Add someone (admins, or anyone when the room allows it); blocks and settings apply."""
    room, actor = await queries.access_membership(session, user_id=actor_id, room_id=room_id)
    if not policy.can_add(room, actor):
        raise Forbidden("Only admins may add people here", code="forbidden")
    if await queries.get_member(session, room_id=room_id, user_id=user_id) is not None:
        return
    await _existing_users(session, [user_id])
    await policy.check_may_message(session, actor_id=actor_id, target_id=user_id)
    await _add_member(session, room=room, user_id=user_id)
    await _membership_changed(
        session,
        room=room,
        actor_id=actor_id,
        user_id=user_id,
        event="added",
        text=f"{await _name(session, actor_id)} added {await _name(session, user_id)}",
        media=media,
    )


async def check_remove_member(
    session: AsyncSession, *, actor_id: int, room_id: int, user_id: int, media: LocalMediaStore
) -> None:
    """Remove someone (admins only; removing oneself is leaving)."""
    if actor_id == user_id:
        await check_leave(session, user_id=actor_id, room_id=room_id, media=media)
        return
    room, actor = await queries.access_membership(session, user_id=actor_id, room_id=room_id)
    if not policy.is_admin(actor) or room.type == "direct":
        raise Forbidden("Only admins may remove people", code="forbidden")
    member = await queries.get_member(session, room_id=room_id, user_id=user_id)
    if member is None:
        raise NotFound("Not a member")
    await _remove(session, room=room, member=member, actor_id=actor_id)
    await _membership_changed(
        session,
        room=room,
        actor_id=actor_id,
        user_id=user_id,
        event="removed",
        text=f"{await _name(session, actor_id)} removed {await _name(session, user_id)}",
        media=media,
    )


async def check_set_role(
    session: AsyncSession, *, actor_id: int, room_id: int, user_id: int, role: str
) -> None:
    """Promote or demote (admins); the last admin cannot demote themselves."""
    room, actor = await queries.access_membership(session, user_id=actor_id, room_id=room_id)
    if not policy.is_admin(actor) or room.type == "direct":
        raise Forbidden("Only admins may change roles", code="forbidden")
    member = await queries.get_member(session, room_id=room_id, user_id=user_id)
    if member is None:
        raise NotFound("Not a member")
    if member.role == role:
        return
    if role == "member":
        admins = await session.scalar(
            select(ChatMember.user_id)
            .where(
                ChatMember.room_id == room_id,
                ChatMember.role == "admin",
                ChatMember.user_id != user_id,
            )
            .limit(1)
        )
        if admins is None:
            raise Conflict("A room needs an admin", code="last_admin")
    member.role = role
    _tell(session, room_id, "promoted" if role == "admin" else "demoted", user_id)


async def check_update_room(
    session: AsyncSession, *, actor_id: int, room_id: int, body: UpdateRoom, media: LocalMediaStore
) -> ChatRoom:
    """Change name, description, avatar and rules (admins; direct rooms have none)."""
    room, actor = await queries.access_membership(session, user_id=actor_id, room_id=room_id)
    if not policy.is_admin(actor) or room.type == "direct":
        raise Forbidden("Only admins may change this room", code="forbidden")
    fields = body.model_dump(exclude_unset=True)
    old_name = room.name
    for key in (
        "description",
        "avatar_url",
        "post_policy",
        "add_policy",
        "slow_mode_seconds",
        "hide_history",
    ):
        if key in fields and (fields[key] is not None or key in ("description", "avatar_url")):
            setattr(room, key, fields[key])
    if fields.get("name") is not None:
        room.name = fields["name"]
    await session.flush()
    if room.name != old_name:
        await _system(
            session,
            room=room,
            actor_id=actor_id,
            event="renamed",
            text=f"{await _name(session, actor_id)} renamed the room to {room.name}",
            media=media,
        )
    _tell(session, room_id, "settings")
    return room


# messages ----------------------------------------------------------------------------------------


async def _own_resend(
    session: AsyncSession, *, user_id: int, client_id: str | None, media: LocalMediaStore
) -> Sent | None:
    if client_id is None:
        return None
    existing = await session.scalar(
        select(ChatMessage).where(
            ChatMessage.sender_id == user_id, ChatMessage.client_id == client_id
        )
    )
    if existing is None:
        return None
    view = await queries.render_message(session, viewer_id=user_id, message=existing, media=media)
    return Sent(message=view, created=False)


def sanitize_text(raw: str) -> tuple[str, str]:
    """(stored, visible) text. Most chat lines hold nothing the HTML sanitizer would change;
    those skip it (a unit test checks the shortcut gives the sanitizer's answer)."""
    if NEEDS_SANITIZER.search(raw) is None:
        clean = raw.strip()
        return clean, clean
    clean = sanitize(raw)
    return clean, plain(clean).strip()


async def _check_text(raw: str, *, optional: bool = False) -> str:
    clean, visible = sanitize_text(raw)
    if not visible and optional:
        return ""
    if not visible:
        raise ValidationFailed("A message needs text", code="empty_message")
    if len(visible) > MAX_TEXT or len(clean) > 4 * MAX_TEXT:
        raise ValidationFailed(f"A message has at most {MAX_TEXT} characters", code="text_too_long")
    return clean


async def _mentions(session: AsyncSession, *, room_id: int, sender_id: int, text: str) -> list[int]:
    """@usernames of members of this room; other names stay plain text."""
    found = []
    for name in find_mentions(text)[:20]:
        user = await account_queries.get_user_by_username(session, username=name)
        if user is None or user.id == sender_id:
            continue
        if await queries.get_member(session, room_id=room_id, user_id=user.id) is not None:
            found.append(user.id)
    return found


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on its way in; `notify_delay` None skips notifying away members."""

    user_id: int
    room_id: int
    body: SendMessage
    notify_delay: float | None
    attachment: MediaView | FileView | None = None


@dataclass(frozen=True, slots=True)
class _Row:
    """A message just inserted in bulk, as rendering reads it (no ORM instance to build)."""

    id: int
    room_id: int
    seq: int
    sender_id: int | None
    type: str
    text: str
    reply_to_id: int | None
    client_id: str | None
    data: dict[str, Any]
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None


@dataclass(slots=True)
class _Accepted:
    """An outgoing message that passed every check, waiting for its sequence."""

    item: Outgoing
    room: ChatRoom
    text: str
    kind: str
    data: dict[str, Any]
    id: int = 0
    seq: int = 0


async def _resends(
    session: AsyncSession, items: Sequence[Outgoing], media: LocalMediaStore
) -> dict[tuple[int, str], Sent]:
    """Stored messages matching these items' (sender, client_id) pairs, in one query."""
    keys = {(i.user_id, i.body.client_id) for i in items if i.body.client_id is not None}
    if not keys:
        return {}
    rows = await session.execute(
        select(ChatMessage).where(
            ChatMessage.sender_id.in_({u for u, _ in keys}),
            ChatMessage.client_id.in_({c for _, c in keys}),
        )
    )
    found = [m for m in rows.scalars() if (m.sender_id, m.client_id) in keys]
    views = await queries.render_messages(session, viewer_id=0, messages=found, media=media)
    return {
        (int(m.sender_id or 0), str(m.client_id)): Sent(
            message=v.model_copy(update={"client_id": m.client_id}), created=False
        )
        for m, v in zip(found, views, strict=True)
    }


# the send path's fixed statements, built once (constructing them per batch showed in profiles)
_ROOMS_AND_MEMBERS = (
    select(ChatRoom, ChatMember)
    .outerjoin(
        ChatMember,
        and_(
            ChatMember.room_id == ChatRoom.id,
            ChatMember.user_id.in_(bindparam("senders", expanding=True)),
        ),
    )
    .where(ChatRoom.id.in_(bindparam("rooms", expanding=True)))
)
_INSERT_MESSAGES = insert(cast(Table, ChatMessage.__table__))
_MEMBERS = cast(Table, ChatMember.__table__)
_MOVE_MARKS = (
    update(_MEMBERS)
    .where(_MEMBERS.c.room_id == bindparam("r"), _MEMBERS.c.user_id == bindparam("u"))
    .values(
        last_read_seq=bindparam("s"), last_delivered_seq=bindparam("s"), last_sent_at=bindparam("t")
    )
)


async def _rooms_and_members(
    session: AsyncSession, items: Sequence[Outgoing]
) -> tuple[dict[int, ChatRoom], dict[tuple[int, int], ChatMember]]:
    """The batch's rooms and its senders' memberships, in one query."""
    rows = await session.execute(
        _ROOMS_AND_MEMBERS,
        {"senders": list({i.user_id for i in items}), "rooms": list({i.room_id for i in items})},
    )
    rooms: dict[int, ChatRoom] = {}
    members: dict[tuple[int, int], ChatMember] = {}
    for room, member in rows.all():
        rooms[room.id] = room
        if member is not None:
            members[(member.room_id, member.user_id)] = member
    return rooms, members


async def _accept(
    session: AsyncSession,
    item: Outgoing,
    room: ChatRoom | None,
    member: ChatMember | None,
    now: datetime,
) -> _Accepted:
    """Every check one message must pass; raises the AppError the sender gets."""
    if room is None or (member is None and room.type != "public"):
        raise NotFound("No such room")
    if member is None:
        raise Forbidden("Join the room first", code="not_member")
    if not policy.can_post(room, member):
        raise Forbidden("Only admins may write here", code="posting_restricted")
    other = None
    if room.type == "direct" and room.direct_key:
        low, high = (int(x) for x in room.direct_key.split(":"))
        other = high if low == item.user_id else low
        await policy.check_may_message(session, actor_id=item.user_id, target_id=other)
    if room.slow_mode_seconds and not policy.is_admin(member) and member.last_sent_at:
        wait = member.last_sent_at + timedelta(seconds=room.slow_mode_seconds) - now
        if wait.total_seconds() > 0:
            raise RateLimited(
                "Slow mode is on in this room",
                code="slow_mode",
                retry_after=int(wait.total_seconds()) + 1,
            )
    body = item.body
    clean = await _check_text(body.message, optional=item.attachment is not None)
    if body.reply_to_id is not None:
        parent = await session.get(ChatMessage, body.reply_to_id)
        if (
            parent is None
            or parent.room_id != room.id
            or parent.seq < policy.sees_from(room, member)
        ):
            raise ValidationFailed("The message replied to is not in this room", code="bad_reply")
    mentioned = []
    if find_mentions(clean):
        mentioned = await _mentions(session, room_id=room.id, sender_id=item.user_id, text=clean)
    data: dict[str, Any] = {"mentions": [str(m) for m in mentioned]} if mentioned else {}
    kind: str = body.type
    if item.attachment is not None:
        data["attachment"] = item.attachment.model_dump(mode="json")
        kind = {"video": "video", "file": "file"}.get(item.attachment.kind, "image")
    if (
        other is not None
        and await queries.get_member(session, room_id=room.id, user_id=other) is None
    ):
        # the other person had left: the next message brings the conversation back
        await _add_member(session, room=room, user_id=other)
        _tell(session, room.id, "joined", other)
    # later messages of this batch see this one for slow mode (no UPDATE from the ORM)
    set_committed_value(member, "last_sent_at", now)
    return _Accepted(item=item, room=room, text=clean, kind=kind, data=data)


async def _store(session: AsyncSession, accepted: list[_Accepted], now: datetime) -> None:
    """One UPDATE hands every room its sequence range, one insert, one read-mark update."""
    by_room: dict[int, list[_Accepted]] = {}
    for a in accepted:
        a.id = new_id()
        by_room.setdefault(a.room.id, []).append(a)
    rooms = cast(Table, ChatRoom.__table__)
    ids = sorted(by_room)  # one lock order for every process (PostgreSQL row locks)
    taken = await session.execute(
        update(rooms)
        .where(rooms.c.id.in_(ids))
        .values(
            last_seq=rooms.c.last_seq + case({r: len(by_room[r]) for r in ids}, value=rooms.c.id),
            last_activity_at=now,
            last_message_id=case({r: by_room[r][-1].id for r in ids}, value=rooms.c.id),
        )
        .returning(rooms.c.id, rooms.c.last_seq)
    )
    for room_id, last in taken.all():
        group = by_room[int(room_id)]
        for offset, a in enumerate(group):
            a.seq = int(last) - len(group) + 1 + offset
        room = group[0].room
        set_committed_value(room, "last_seq", int(last))
        set_committed_value(room, "last_activity_at", now)
        set_committed_value(room, "last_message_id", group[-1].id)
    await session.execute(
        _INSERT_MESSAGES,
        [
            {
                "id": a.id,
                "room_id": a.room.id,
                "seq": a.seq,
                "sender_id": a.item.user_id,
                "type": a.kind,
                "text": a.text,
                "reply_to_id": a.item.body.reply_to_id,
                "client_id": a.item.body.client_id,
                "data": a.data,
                "created_at": now,
                "edited_at": None,
                "deleted_at": None,
            }
            for a in accepted
        ],
    )
    marks = {(a.room.id, a.item.user_id): a.seq for a in accepted}  # the last one wins
    await session.execute(
        _MOVE_MARKS, [{"r": r, "u": u, "s": s, "t": now} for (r, u), s in marks.items()]
    )


async def check_send_messages(
    session: AsyncSession, items: Sequence[Outgoing], *, media: LocalMediaStore
) -> list[Sent | AppError]:
    """Store a batch of messages in this transaction, each refused or accepted on its own.

    A few queries serve the whole batch (resends, rooms, memberships, one sequence UPDATE per
    room, one insert), which is what lets one core keep up with busy rooms; messages of one
    room take consecutive sequences in the order given. A `client_id` repeated within the batch
    gets the first one's message; one already stored fails the insert (unique key), which rolls
    the batch back for `send_alone` to answer each message on its own with the original.
    """
    now = utcnow()
    rooms, members = await _rooms_and_members(session, items)
    results: list[Sent | AppError | None] = [None] * len(items)
    accepted: list[_Accepted] = []
    owner: dict[tuple[int, str], int] = {}  # (sender, client_id) -> index in `accepted`
    slots: dict[int, tuple[int, bool]] = {}  # result index -> (accepted index, is a twin)
    for i, item in enumerate(items):
        cid = item.body.client_id
        key = (item.user_id, cid) if cid is not None else None
        if key is not None and key in owner:
            slots[i] = (owner[key], True)
        else:
            room = rooms.get(item.room_id)
            member = members.get((item.room_id, item.user_id))
            try:
                accepted.append(await _accept(session, item, room, member, now))
            except AppError as exc:
                results[i] = exc
                continue
            slots[i] = (len(accepted) - 1, False)
            if key is not None:
                owner[key] = len(accepted) - 1
    refused = [items[i] for i, r in enumerate(results) if r is not None]
    if refused:  # a resend is answered with its original even if it would be refused now
        resent = await _resends(session, refused, media)
        for i, item in enumerate(items):
            cid = item.body.client_id
            if results[i] is not None and cid is not None and (item.user_id, cid) in resent:
                results[i] = resent[(item.user_id, cid)]
    sent = await _store_and_tell(session, accepted, media, now) if accepted else []
    for i, (index, twin) in slots.items():
        first = sent[index]
        results[i] = Sent(first.message, False, first.wire) if twin else first
    return [r for r in results if r is not None]


# room -> the end of the notify window this process has a job for (decision 0403)
_notify_windows: dict[int, datetime] = {}
_OPENED_KEY = "townsquare.chat.notify_windows"


def _notify_later(
    session: AsyncSession, room_id: int, seq: int, now: datetime, delay: float
) -> None:
    """One delayed notify job per room per window: the job covers every message of the room
    created in the window, so a busy room costs a job every few seconds, not one per message."""
    until = _notify_windows.get(room_id)
    if until is not None and now <= until:
        return
    if len(_notify_windows) > 10_000:
        _notify_windows.clear()
    until = now + timedelta(seconds=min(delay, NOTIFY_WINDOW_SECONDS))
    _notify_windows[room_id] = until
    opened: list[int] | None = session.info.get(_OPENED_KEY)
    if opened is None:  # a rollback takes the job back, so it must take the window back too
        opened = session.info[_OPENED_KEY] = []

        def rolled_back(sync_session: Session, *_: Any) -> None:
            for room in sync_session.info.pop(_OPENED_KEY, []):
                _notify_windows.pop(room, None)

        event.listen(session.sync_session, "after_soft_rollback", rolled_back, once=True)
    opened.append(room_id)
    payload = {"room_id": str(room_id), "after_seq": seq - 1, "until": until.isoformat()}
    jobs.defer(session, NOTIFY_JOB, payload, delay=delay + (until - now).total_seconds())


async def _store_and_tell(
    session: AsyncSession, accepted: list[_Accepted], media: LocalMediaStore, now: datetime
) -> list[Sent]:
    """Write the accepted messages, queue `chat:new_message` and the notify jobs."""
    await _store(session, accepted, now)
    messages = [
        _Row(
            id=a.id,
            room_id=a.room.id,
            seq=a.seq,
            sender_id=a.item.user_id,
            type=a.kind,
            text=a.text,
            reply_to_id=a.item.body.reply_to_id,
            client_id=a.item.body.client_id,
            data=a.data,
            created_at=now,
            edited_at=None,
            deleted_at=None,
        )
        for a in accepted
    ]
    public = await queries.render_messages(
        session, viewer_id=0, messages=messages, media=media, fresh=True
    )
    for a in accepted:
        if a.item.notify_delay is not None:
            _notify_later(session, a.room.id, a.seq, now, a.item.notify_delay)
    sent: list[Sent] = []
    for a, view in zip(accepted, public, strict=True):
        wire = view.model_dump(mode="json")  # once: for the room's event and the sender's ack
        channel = queries.room_channel(a.room.id)
        emit(session, NewMessage.serialised(a.room.id, view, wire), to=[channel])
        cid = a.item.body.client_id
        own = view.model_copy(update={"client_id": cid}) if cid is not None else view
        sent.append(Sent(message=own, created=True, wire={**wire, "client_id": cid}))
    return sent


async def check_send_message(
    session: AsyncSession,
    *,
    user_id: int,
    room_id: int,
    body: SendMessage,
    media: LocalMediaStore,
    notify_delay: float | None,
    attachment: MediaView | FileView | None = None,
) -> Sent:
    """One message in this transaction (attachments, demo data); raises its refusal."""
    item = Outgoing(user_id, room_id, body, notify_delay, attachment)
    result = (await check_send_messages(session, [item], media=media))[0]
    if isinstance(result, AppError):
        raise result
    return result


async def check_send_attachment(
    session: AsyncSession,
    *,
    principal: Principal,
    room_id: int,
    upload: images.ProcessedUpload,
    body: SendMessage,
    media: LocalMediaStore,
    notify_delay: float | None,
) -> Sent:
    """An image or video message: stored through the posts domain's media store (its types and
    size limits), then sent like any message with the caption as its optional text."""
    resent = await _own_resend(
        session, user_id=principal.user_id, client_id=body.client_id, media=media
    )
    if resent is not None:
        return resent
    await queries.access_membership(session, user_id=principal.user_id, room_id=room_id)
    row = await posts_actions.do_store_upload(
        session, principal=principal, upload=upload, media=media
    )
    return await check_send_message(
        session,
        user_id=principal.user_id,
        room_id=room_id,
        body=body,
        media=media,
        notify_delay=notify_delay,
        attachment=posts_queries.media_view(row, media),
    )


async def check_send_file(
    session: AsyncSession,
    *,
    user_id: int,
    room_id: int,
    upload: files.ChatFile,
    body: SendMessage,
    media: LocalMediaStore,
    notify_delay: float | None,
) -> Sent:
    """A document message: the file is stored under an unguessable key and sent with the
    caption as its optional text."""
    resent = await _own_resend(session, user_id=user_id, client_id=body.client_id, media=media)
    if resent is not None:
        return resent
    await queries.access_membership(session, user_id=user_id, room_id=room_id)
    key = media.new_key(files.FOLDER, upload.suffix)
    await media.save(key, upload.data)
    url = media.url(key)
    assert url is not None
    view = FileView(
        name=upload.name, content_type=upload.content_type, url=url, size=len(upload.data)
    )
    return await check_send_message(
        session,
        user_id=user_id,
        room_id=room_id,
        body=body,
        media=media,
        notify_delay=notify_delay,
        attachment=view,
    )


async def send_alone(db: Database, item: Outgoing, *, media: LocalMediaStore) -> Sent:
    """One message in its own transaction; a concurrent twin with the same client_id (another
    process) loses the unique key and gets the stored original instead of an error."""
    try:
        async with db.transaction() as session:
            return await check_send_message(
                session,
                user_id=item.user_id,
                room_id=item.room_id,
                body=item.body,
                media=media,
                notify_delay=item.notify_delay,
                attachment=item.attachment,
            )
    except IntegrityError:
        if item.body.client_id is None:
            raise
        async with db.read() as session:
            resent = await _own_resend(
                session, user_id=item.user_id, client_id=item.body.client_id, media=media
            )
        if resent is None:
            raise
        return resent


async def _own_message(
    session: AsyncSession, *, user_id: int, message_id: int
) -> tuple[ChatRoom, ChatMember, ChatMessage]:
    room, member, message = await queries.access_message(
        session, user_id=user_id, message_id=message_id
    )
    if message.deleted_at is not None:
        raise NotFound("This message was deleted", code="message_deleted")
    return room, member, message


async def _updated(
    session: AsyncSession,
    *,
    message: ChatMessage,
    change: str,
    viewer_id: int,
    media: LocalMediaStore,
) -> MessageView:
    view = await queries.render_message(session, viewer_id=viewer_id, message=message, media=media)
    emit(
        session,
        MessageUpdated(
            room_id=message.room_id,
            change=change,
            message=view.model_copy(update={"client_id": None, "status": None}),
        ),
        to=[queries.room_channel(message.room_id)],
    )
    return view


async def check_edit_message(
    session: AsyncSession, *, user_id: int, message_id: int, text: str, media: LocalMediaStore
) -> MessageView:
    """Edit one's own message; the previous text is kept in its history."""
    _, _, message = await _own_message(session, user_id=user_id, message_id=message_id)
    if message.sender_id != user_id or message.type == "system":
        raise Forbidden("Only the sender may edit a message", code="forbidden")
    clean = await _check_text(text)
    if clean == message.text:
        return await queries.render_message(
            session, viewer_id=user_id, message=message, media=media
        )
    now = utcnow()
    session.add(
        ChatMessageEdit(id=new_id(), message_id=message.id, text=message.text, edited_at=now)
    )
    message.text = clean
    message.edited_at = now
    await session.flush()
    return await _updated(session, message=message, change="edited", viewer_id=user_id, media=media)


async def check_delete_message(
    session: AsyncSession, *, user_id: int, message_id: int, media: LocalMediaStore
) -> MessageView:
    """Delete for everyone (the sender or a room admin): a tombstone keeps its place."""
    _, member, message = await _own_message(session, user_id=user_id, message_id=message_id)
    if message.sender_id != user_id and not policy.is_admin(member):
        raise Forbidden("Only the sender or an admin may delete a message", code="forbidden")
    message.deleted_at = utcnow()
    message.text = ""
    message.data = {}
    await session.execute(delete(ChatMessageEdit).where(ChatMessageEdit.message_id == message.id))
    await session.execute(delete(ChatReaction).where(ChatReaction.message_id == message.id))
    await session.flush()
    return await _updated(
        session, message=message, change="deleted", viewer_id=user_id, media=media
    )


async def check_toggle_reaction(
    session: AsyncSession, *, user_id: int, message_id: int, emoji: str, media: LocalMediaStore
) -> MessageView:
    """Add the caller's emoji, or take it back if it is there."""
    _, _, message = await _own_message(session, user_id=user_id, message_id=message_id)
    existing = await session.get(ChatReaction, (message_id, user_id, emoji))
    if existing is not None:
        await session.delete(existing)
    else:
        kinds = set(
            (
                await session.execute(
                    select(ChatReaction.emoji).where(ChatReaction.message_id == message_id)
                )
            ).scalars()
        )
        if emoji not in kinds and len(kinds) >= 50:
            raise Conflict(
                "A message has at most 50 different reactions", code="too_many_reactions"
            )
        session.add(
            ChatReaction(message_id=message_id, user_id=user_id, emoji=emoji, created_at=utcnow())
        )
    await session.flush()
    return await _updated(
        session, message=message, change="reactions", viewer_id=user_id, media=media
    )


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
