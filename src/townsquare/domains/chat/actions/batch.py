"""The send path: a batch of messages stored in one transaction, and the group commit that
feeds it the messages arriving meanwhile (decision 0403)."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from townsquare.core.clock import utcnow
from townsquare.core.db import Database
from townsquare.core.errors import AppError, Forbidden, NotFound, RateLimited, ValidationFailed
from townsquare.core.events import emit
from townsquare.core.ids import new_id
from townsquare.core.text import find_mentions
from townsquare.domains.accounts import queries as account_queries
from townsquare.domains.chat import policy, queries
from townsquare.domains.chat.actions.notify import notify_later
from townsquare.domains.chat.actions.rooms import add_member, tell
from townsquare.domains.chat.actions.text import check_text
from townsquare.domains.chat.models import ChatMember, ChatMessage, ChatRoom
from townsquare.domains.chat.schemas import FileView, MessageView, NewMessage, SendMessage
from townsquare.domains.posts.schemas import MediaView
from townsquare.infra.media import LocalMediaStore


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


async def own_resend(
    session: AsyncSession, *, user_id: int, client_id: str | None, media: LocalMediaStore
) -> Sent | None:
    """The sender's stored message with this client_id: a resend is answered with it."""
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
    clean = await check_text(body.message, optional=item.attachment is not None)
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
        await add_member(session, room=room, user_id=other)
        tell(session, room.id, "joined", other)
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
            notify_later(session, a.room.id, a.seq, now, a.item.notify_delay)
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
            resent = await own_resend(
                session, user_id=item.user_id, client_id=item.body.client_id, media=media
            )
        if resent is None:
            raise
        return resent


# group commit ------------------------------------------------------------------------------------

MAX_BATCH = 200
# loop passes to wait before taking a batch: enough for sends already read from sockets to
# reach the queue (read, then the connection's task), so they share the transaction
YIELDS = 2


@dataclass(slots=True)
class _Waiting:
    item: Outgoing
    reply: asyncio.Future[Sent]


class ChatSender:
    """One per database: a single task stores queued messages batch by batch, in arrival order.

    There is no timer: an idle server stores a message at once (a batch of one); under load
    the messages that came in during one commit share the next, so the cost of a transaction
    is paid once per batch rather than once per message.
    """

    def __init__(self, db: Database, media: LocalMediaStore) -> None:
        self._db = db
        self._media = media
        self._queue: deque[_Waiting] = deque()
        self._task: asyncio.Task[None] | None = None

    async def send(self, item: Outgoing) -> Sent:
        """Queue the message and wait until it is committed (or refused); a caller that is
        cancelled meanwhile leaves the message to be stored all the same."""
        reply: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(item, reply))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await reply

    async def _drain(self) -> None:
        while self._queue:
            for _ in range(YIELDS):  # let the sends already read from sockets join this batch
                await asyncio.sleep(0)
            batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
            try:
                await self._store(batch)
            except BaseException as exc:  # never leave a sender waiting
                for waiting in batch:
                    if not waiting.reply.done():
                        waiting.reply.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise

    async def _store(self, batch: list[_Waiting]) -> None:
        try:
            async with self._db.transaction() as session:
                results = await check_send_messages(
                    session, [w.item for w in batch], media=self._media
                )
        except (IntegrityError, DBAPIError):
            # a twin committed by another process, or one bad row: each on its own instead
            for waiting in batch:
                await self._alone(waiting)
            return
        for waiting, result in zip(batch, results, strict=True):
            if waiting.reply.done():
                continue
            if isinstance(result, AppError):
                waiting.reply.set_exception(result)
            else:
                waiting.reply.set_result(result)

    async def _alone(self, waiting: _Waiting) -> None:
        try:
            result = await send_alone(self._db, waiting.item, media=self._media)
        except Exception as exc:
            if not waiting.reply.done():
                waiting.reply.set_exception(exc)
            return
        if not waiting.reply.done():
            waiting.reply.set_result(result)


_senders: weakref.WeakKeyDictionary[Database, ChatSender] = weakref.WeakKeyDictionary()


async def send_message(
    db: Database,
    *,
    user_id: int,
    room_id: int,
    body: SendMessage,
    media: LocalMediaStore,
    notify_delay: float | None,
) -> Sent:
    """Send through this database's group commit; REST and `chat:message` both come here."""
    sender = _senders.get(db)
    if sender is None:
        sender = _senders[db] = ChatSender(db, media)
    return await sender.send(Outgoing(user_id, room_id, body, notify_delay))
