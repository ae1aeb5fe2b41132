"""Room writes (create, join, leave, members, roles, settings) and the events they publish."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from townsquare.core.clock import utcnow
from townsquare.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from townsquare.core.events import emit, user_room
from townsquare.core.ids import new_id
from townsquare.domains.accounts import queries as account_queries
from townsquare.domains.chat import policy, queries
from townsquare.domains.chat.models import ChatMember, ChatMessage, ChatRoom
from townsquare.domains.chat.schemas import CreateRoom, NewMessage, RoomChanged, UpdateRoom
from townsquare.domains.social import actions as social_actions
from townsquare.infra.media import LocalMediaStore
from townsquare.realtime.rooms import evict_from_room

MAX_MEMBERS = 1000


def direct_key(a: int, b: int) -> str:
    """The unique key of the direct room of two people, the same whoever opens it."""
    low, high = sorted((a, b))
    return f"{low}:{high}"


@social_actions.on_block
async def _close_direct_stream(session: AsyncSession, blocker_id: int, blocked_id: int) -> None:
    """A block ends both people's live stream of their direct room (neither may write there
    while it stands, and the room policy refuses rejoining)."""
    room_id = await session.scalar(
        select(ChatRoom.id).where(ChatRoom.direct_key == direct_key(blocker_id, blocked_id))
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


async def add_member(
    session: AsyncSession, *, room: ChatRoom, user_id: int, role: str = "member"
) -> ChatMember:
    """Make someone a member, reading from now on; refuses past the room's size limit."""
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
    tell(session, room.id, event, user_id)


async def _name(session: AsyncSession, user_id: int) -> str:
    user = await account_queries.get_user(session, user_id=user_id)
    if user is None:
        return "someone"
    return user.display_name or user.username


def tell(session: AsyncSession, room_id: int, change: str, *users: int) -> None:
    """`chat:room_updated` to the room and to the users the change is about."""
    emit(
        session,
        RoomChanged(room_id=room_id, change=change, user_id=users[0] if users else None),
        to=[queries.room_channel(room_id), *(user_room(u) for u in users)],
    )


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
        key = direct_key(creator_id, others[0])
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
            select(ChatRoom).where(ChatRoom.direct_key == direct_key(creator_id, others[0]))
        )
        if existing is not None:  # the creator had left it: back in, same conversation
            await add_member(session, room=existing, user_id=creator_id)
            return existing, False
    now = utcnow()
    room = ChatRoom(
        id=new_id(),
        type=body.type,
        name=body.name,
        description=body.description,
        avatar_url=body.avatar_url,
        direct_key=direct_key(creator_id, others[0]) if body.type == "direct" else None,
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
    await add_member(
        session, room=room, user_id=creator_id, role="member" if body.type == "direct" else "admin"
    )
    for uid in others:
        await add_member(session, room=room, user_id=uid)
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
    await add_member(session, room=room, user_id=user_id)
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
        tell(session, room.id, "promoted", heir.user_id)


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
    await add_member(session, room=room, user_id=user_id)
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
    tell(session, room_id, "promoted" if role == "admin" else "demoted", user_id)


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
    tell(session, room_id, "settings")
    return room
