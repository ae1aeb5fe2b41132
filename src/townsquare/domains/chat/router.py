"""HTTP routes of chat under `/api/v1/realtime/chat`: rooms, members, messages, search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Response, UploadFile

from townsquare.context import AppContext
from townsquare.core.errors import PayloadTooLarge, RateLimited, ValidationFailed
from townsquare.core.pagination import Page
from townsquare.core.params import Cursor, IdPath, IdQuery, Limit
from townsquare.domains.accounts.dependencies import Ctx, CurrentUser
from townsquare.domains.chat import actions, files, queries
from townsquare.domains.chat.schemas import (
    AddMember,
    ChatSettingsIn,
    ChatSettingsOut,
    CreateRoom,
    EditMessage,
    MessageEditView,
    MessagePage,
    MessageView,
    React,
    ReadUpTo,
    RoomView,
    SendMessage,
    SetRole,
    UpdateRoom,
)
from townsquare.infra import images
from townsquare.infra.ratelimit import Rule

router = APIRouter(prefix="/api/v1/realtime/chat", tags=["chat"])


def chat_rule(ctx: AppContext) -> Rule:
    """Messages per minute per user; the gateway's `chat` rule, so both paths share one budget."""
    return Rule(ctx.settings.gateway_chat_messages_per_minute, 60)


async def hit_chat_limit(ctx: AppContext, user_id: int) -> None:
    """Count one message against the same key the gateway uses for `chat:message`."""
    rule = chat_rule(ctx)
    key = ("rt", "chat:message", str(user_id))
    if not await ctx.limiter.hit(rule, *key):
        retry = await ctx.limiter.retry_after(rule, *key)
        raise RateLimited("Too many messages", retry_after=retry)


@router.get("/rooms")
async def list_rooms(
    ctx: Ctx, principal: CurrentUser, cursor: Cursor = None, limit: Limit = 20
) -> Page[RoomView]:
    """The caller's rooms by last activity, each with its last message and unread count."""
    async with ctx.db.read() as session:
        return await queries.list_rooms(
            session, user_id=principal.user_id, cursor=cursor, limit=limit, media=ctx.media
        )


@router.post("/rooms", status_code=201)
async def create_room(
    body: CreateRoom, ctx: Ctx, principal: CurrentUser, response: Response
) -> RoomView:
    """Create a room; asking for a direct room that exists returns it with 200."""
    async with ctx.db.transaction() as session:
        room, created = await actions.check_create_room(
            session, creator_id=principal.user_id, body=body, media=ctx.media
        )
    if not created:
        response.status_code = 200
    return await _room(ctx, principal.user_id, room.id)


async def _room(ctx: AppContext, user_id: int, room_id: int) -> RoomView:
    async with ctx.db.read() as session:
        room, member = await queries.access_room(session, user_id=user_id, room_id=room_id)
        return await queries.room_view(
            session, user_id=user_id, room=room, member=member, media=ctx.media, with_members=True
        )


@router.get("/rooms/{room_id}")
async def get_room(room_id: IdPath, ctx: Ctx, principal: CurrentUser) -> RoomView:
    """A room the caller belongs to (or a public one), with its members."""
    return await _room(ctx, principal.user_id, room_id)


@router.patch("/rooms/{room_id}")
async def update_room(
    room_id: IdPath, body: UpdateRoom, ctx: Ctx, principal: CurrentUser
) -> RoomView:
    """Name, description, avatar, who may post or add people, slow mode (admins)."""
    async with ctx.db.transaction() as session:
        await actions.check_update_room(
            session, actor_id=principal.user_id, room_id=room_id, body=body, media=ctx.media
        )
    return await _room(ctx, principal.user_id, room_id)


@router.post("/rooms/{room_id}/join")
async def join_room(room_id: IdPath, ctx: Ctx, principal: CurrentUser) -> RoomView:
    """Join a public room."""
    async with ctx.db.transaction() as session:
        await actions.check_join(
            session, user_id=principal.user_id, room_id=room_id, media=ctx.media
        )
    return await _room(ctx, principal.user_id, room_id)


@router.post("/rooms/{room_id}/leave", status_code=204)
async def leave_room(room_id: IdPath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Leave a room; if the caller was its last admin, the longest member becomes admin."""
    async with ctx.db.transaction() as session:
        await actions.check_leave(
            session, user_id=principal.user_id, room_id=room_id, media=ctx.media
        )
    return Response(status_code=204)


@router.post("/rooms/{room_id}/members", status_code=204)
async def add_member(
    room_id: IdPath, body: AddMember, ctx: Ctx, principal: CurrentUser
) -> Response:
    """Add someone to a group, team or public room."""
    async with ctx.db.transaction() as session:
        await actions.check_add_member(
            session,
            actor_id=principal.user_id,
            room_id=room_id,
            user_id=body.user_id,
            media=ctx.media,
        )
    return Response(status_code=204)


@router.delete("/rooms/{room_id}/members/{user_id}", status_code=204)
async def remove_member(
    room_id: IdPath, user_id: IdPath, ctx: Ctx, principal: CurrentUser
) -> Response:
    """Remove someone (admins); removing oneself is leaving."""
    async with ctx.db.transaction() as session:
        await actions.check_remove_member(
            session, actor_id=principal.user_id, room_id=room_id, user_id=user_id, media=ctx.media
        )
    return Response(status_code=204)


@router.put("/rooms/{room_id}/members/{user_id}/role", status_code=204)
async def set_role(
    room_id: IdPath, user_id: IdPath, body: SetRole, ctx: Ctx, principal: CurrentUser
) -> Response:
    """Promote to admin or demote to member (admins)."""
    async with ctx.db.transaction() as session:
        await actions.check_set_role(
            session, actor_id=principal.user_id, room_id=room_id, user_id=user_id, role=body.role
        )
    return Response(status_code=204)


@router.get("/rooms/{room_id}/messages")
async def list_messages(
    room_id: IdPath,
    ctx: Ctx,
    principal: CurrentUser,
    before: Cursor = None,
    after: Cursor = None,
    around: IdQuery = None,
    limit: Limit = 50,
) -> MessagePage:
    """History in sequence order: newest, `before`/`after` a cursor, or `around` a message."""
    async with ctx.db.read() as session:
        return await queries.list_messages(
            session,
            user_id=principal.user_id,
            room_id=room_id,
            before=before,
            after=after,
            around=around,
            limit=limit,
            media=ctx.media,
        )


@router.post("/rooms/{room_id}/messages", status_code=201)
async def send_message(
    room_id: IdPath, body: SendMessage, ctx: Ctx, principal: CurrentUser, response: Response
) -> MessageView:
    """Send; the same `client_id` again returns the stored message with 200."""
    await hit_chat_limit(ctx, principal.user_id)
    sent = await actions.send_message(
        ctx.db,
        user_id=principal.user_id,
        room_id=room_id,
        body=body,
        media=ctx.media,
        notify_delay=ctx.settings.chat_notify_delay_seconds,
    )
    if not sent.created:
        response.status_code = 200
    return sent.message


@router.post("/rooms/{room_id}/attachments", status_code=201)
async def send_attachment(
    room_id: IdPath,
    file: UploadFile,
    ctx: Ctx,
    principal: CurrentUser,
    response: Response,
    caption: Annotated[str, Form(max_length=20000)] = "",
    client_id: Annotated[str | None, Form(min_length=1, max_length=128)] = None,
) -> MessageView:
    """Send an image (JPEG, PNG, WebP, GIF), a video (MP4, WebM) or a file (PDF, ZIP, Office and
    OpenDocument files, .txt/.csv/.md text) with an optional caption; files download, never
    render inline."""
    settings = ctx.settings
    limit = max(settings.post_max_image_bytes, settings.post_max_video_bytes)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"Files may be at most {limit // (1024 * 1024)} MB")
    if "\x00" in caption or (client_id is not None and "\x00" in client_id):
        raise ValidationFailed("NUL characters are not allowed", code="validation_failed")
    body = SendMessage.model_construct(
        message=caption, type="text", reply_to_id=None, client_id=client_id
    )
    await hit_chat_limit(ctx, principal.user_id)
    delay = settings.chat_notify_delay_seconds
    document = files.detect(data, file.filename or "")
    upload = None
    if document is None:
        upload = images.process_upload(
            data,
            max_image_bytes=settings.post_max_image_bytes,
            max_video_bytes=settings.post_max_video_bytes,
            thumb_px=settings.post_thumbnail_px,
        )
    async with ctx.db.transaction() as session:
        if document is not None:
            sent = await actions.check_send_file(
                session,
                user_id=principal.user_id,
                room_id=room_id,
                upload=document,
                body=body,
                media=ctx.media,
                notify_delay=delay,
            )
        else:
            assert upload is not None
            sent = await actions.check_send_attachment(
                session,
                principal=principal,
                room_id=room_id,
                upload=upload,
                body=body,
                media=ctx.media,
                notify_delay=delay,
            )
    if not sent.created:
        response.status_code = 200
    return sent.message


@router.post("/rooms/{room_id}/read")
async def mark_read(
    room_id: IdPath, body: ReadUpTo, ctx: Ctx, principal: CurrentUser
) -> dict[str, int]:
    """Read up to a message; the caller's devices get the new unread count."""
    async with ctx.db.transaction() as session:
        seq, unread = await actions.check_mark_read(
            session, user_id=principal.user_id, room_id=room_id, message_id=body.message_id
        )
    return {"last_read_seq": seq, "unread_count": unread}


@router.post("/rooms/{room_id}/delivered")
async def mark_delivered(
    room_id: IdPath, body: ReadUpTo, ctx: Ctx, principal: CurrentUser
) -> dict[str, int]:
    """A device received messages up to this one (`chat:delivered` over the socket)."""
    async with ctx.db.transaction() as session:
        seq = await actions.check_mark_delivered(
            session, user_id=principal.user_id, room_id=room_id, message_id=body.message_id
        )
    return {"last_delivered_seq": seq}


@router.patch("/messages/{message_id}")
async def edit_message(
    message_id: IdPath, body: EditMessage, ctx: Ctx, principal: CurrentUser
) -> MessageView:
    """Edit one's own message; the old text goes to its history."""
    async with ctx.db.transaction() as session:
        return await actions.check_edit_message(
            session,
            user_id=principal.user_id,
            message_id=message_id,
            text=body.message,
            media=ctx.media,
        )


@router.delete("/messages/{message_id}")
async def delete_message(message_id: IdPath, ctx: Ctx, principal: CurrentUser) -> MessageView:
    """Delete for everyone; the tombstone is returned."""
    async with ctx.db.transaction() as session:
        return await actions.check_delete_message(
            session, user_id=principal.user_id, message_id=message_id, media=ctx.media
        )


@router.get("/messages/{message_id}/edits")
async def message_edits(
    message_id: IdPath, ctx: Ctx, principal: CurrentUser
) -> list[MessageEditView]:
    """Earlier texts of a message, oldest first."""
    async with ctx.db.read() as session:
        return await queries.list_edits(session, user_id=principal.user_id, message_id=message_id)


@router.post("/messages/{message_id}/reactions")
async def toggle_reaction(
    message_id: IdPath, body: React, ctx: Ctx, principal: CurrentUser
) -> MessageView:
    """Add the emoji, or remove it when the caller already reacted with it."""
    async with ctx.db.transaction() as session:
        return await actions.check_toggle_reaction(
            session,
            user_id=principal.user_id,
            message_id=message_id,
            emoji=body.emoji,
            media=ctx.media,
        )


@router.get("/search")
async def search_messages(
    ctx: Ctx,
    principal: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    room_id: IdQuery = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> Page[MessageView]:
    """Full-text search in one room or all of the caller's rooms, newest first."""
    async with ctx.db.read() as session:
        return await queries.search_messages(
            session,
            user_id=principal.user_id,
            q=q,
            room_id=room_id,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.get("/settings")
async def get_settings(ctx: Ctx, principal: CurrentUser) -> ChatSettingsOut:
    async with ctx.db.read() as session:
        on = await queries.read_receipts_on(session, user_id=principal.user_id)
    return ChatSettingsOut(read_receipts=on)


@router.put("/settings")
async def put_settings(body: ChatSettingsIn, ctx: Ctx, principal: CurrentUser) -> ChatSettingsOut:
    """Read receipts off: the caller sends none and sees none."""
    async with ctx.db.transaction() as session:
        on = await actions.do_set_read_receipts(
            session, user_id=principal.user_id, enabled=body.read_receipts
        )
    return ChatSettingsOut(read_receipts=on)
