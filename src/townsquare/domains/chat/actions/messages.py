"""Message writes besides plain sends: attachments, files, edits, deletes and reactions."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.clock import utcnow
from townsquare.core.errors import Conflict, Forbidden, NotFound
from townsquare.core.events import emit
from townsquare.core.ids import new_id
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.chat import files, policy, queries
from townsquare.domains.chat.actions.batch import Sent, check_send_message, own_resend
from townsquare.domains.chat.actions.text import check_text
from townsquare.domains.chat.models import (
    ChatMember,
    ChatMessage,
    ChatMessageEdit,
    ChatReaction,
    ChatRoom,
)
from townsquare.domains.chat.schemas import FileView, MessageUpdated, MessageView, SendMessage
from townsquare.domains.posts import actions as posts_actions
from townsquare.domains.posts import queries as posts_queries
from townsquare.infra import images
from townsquare.infra.media import LocalMediaStore


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
    resent = await own_resend(
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
    resent = await own_resend(session, user_id=user_id, client_id=body.client_id, media=media)
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
    clean = await check_text(text)
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
