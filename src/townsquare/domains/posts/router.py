"""HTTP routes of posts: parse, authorize, call the action, shape the reply."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import IntegrityError

from townsquare.core.pagination import DEFAULT_LIMIT, Page
from townsquare.core.params import Cursor, IdPath, Limit, UsernamePath
from townsquare.domains.accounts.dependencies import Ctx, CurrentUser, OptionalUser
from townsquare.domains.posts import actions, queries, uploads
from townsquare.domains.posts.schemas import (
    CommentCreate,
    CommentUpdate,
    CommentView,
    LikeResult,
    MediaView,
    PostCreate,
    PostEditView,
    PostUpdate,
    PostView,
    ReportCreate,
    ReportView,
    ShareCreate,
    ViewResult,
)
from townsquare.infra import images

router = APIRouter(prefix="/api/v1", tags=["posts"])


MEDIA_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post("/media", status_code=201, openapi_extra=MEDIA_BODY)
async def upload_media(request: Request, ctx: Ctx, principal: CurrentUser) -> MediaView:
    """Upload an image (JPEG, PNG, WebP; re-encoded, with a thumbnail), a GIF or a video.

    The body streams to disk under the limit of the file's kind (videos and GIFs have their
    own, larger one), so a large video is never held in memory; over the limit is a 413 and
    nothing is stored.
    """
    settings = ctx.settings
    incoming = await uploads.receive_file(
        request.headers.get("content-type", ""),
        request.stream(),
        media_root=ctx.media.root,
        image_limit=settings.post_max_image_bytes,
        video_limit=settings.post_max_video_bytes,
    )
    try:
        if incoming.kind == "image":
            data = await asyncio.to_thread(incoming.path.read_bytes)  # within the image limit
            upload = images.process_upload(
                data,
                max_image_bytes=settings.post_max_image_bytes,
                max_video_bytes=settings.post_max_video_bytes,
                thumb_px=settings.post_thumbnail_px,
            )
            async with ctx.db.transaction() as session:
                row = await actions.do_store_upload(
                    session, principal=principal, upload=upload, media=ctx.media
                )
        else:
            described = await uploads.describe(incoming)
            async with ctx.db.transaction() as session:
                row = await actions.do_store_received(
                    session,
                    principal=principal,
                    incoming=incoming,
                    described=described,
                    media=ctx.media,
                )
    finally:
        await asyncio.to_thread(incoming.drop)  # refused, or already moved into place
    return queries.media_view(row, ctx.media)


RESENT: dict[int | str, dict[str, Any]] = {
    200: {"description": "The same `client_id` again: the original, unchanged"}
}


@router.post("/posts", status_code=201, responses=RESENT)
async def create_post(
    body: PostCreate, ctx: Ctx, principal: CurrentUser, response: Response
) -> PostView:
    """Publish a post; a `client_id` seen before returns that post with 200 (offline replays)."""
    from townsquare.domains.feed import queries as feed_queries  # the feed builds on posts

    try:
        async with ctx.db.transaction() as session:
            post = await queries.get_resent_post(
                session, author_id=principal.user_id, client_id=body.client_id
            )
            if post is not None:
                response.status_code = 200
            else:
                post = await actions.check_create_post(
                    session,
                    principal=principal,
                    body=body,
                    media=ctx.media,
                    online=feed_queries.online_filter(ctx),
                )
            [view] = await queries.render_posts(
                session, viewer=principal, posts=[post], media=ctx.media
            )
    except IntegrityError:  # a concurrent twin with the same client_id committed first
        async with ctx.db.read() as session:
            post = await queries.get_resent_post(
                session, author_id=principal.user_id, client_id=body.client_id
            )
            if post is None:
                raise
            response.status_code = 200
            [view] = await queries.render_posts(
                session, viewer=principal, posts=[post], media=ctx.media
            )
    return view


@router.get("/posts/{post_id}")
async def get_post(post_id: IdPath, ctx: Ctx, principal: OptionalUser) -> PostView:
    """A post the caller may see; 404 otherwise."""
    async with ctx.db.read() as session:
        return await queries.get_post_view(
            session, viewer=principal, post_id=post_id, media=ctx.media
        )


@router.patch("/posts/{post_id}")
async def update_post(
    post_id: IdPath, body: PostUpdate, ctx: Ctx, principal: CurrentUser
) -> PostView:
    """Edit one's own post; the previous version goes to its history."""
    async with ctx.db.transaction() as session:
        post = await actions.check_update_post(
            session, principal=principal, post_id=post_id, body=body
        )
        [view] = await queries.render_posts(
            session, viewer=principal, posts=[post], media=ctx.media
        )
    return view


@router.delete("/posts/{post_id}", status_code=204)
async def delete_post(post_id: IdPath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Delete a post (its author or a moderator)."""
    async with ctx.db.transaction() as session:
        keys = await actions.check_delete_post(session, principal=principal, post_id=post_id)
    for key in keys:
        await ctx.media.delete(key)
    return Response(status_code=204)


@router.get("/posts/{post_id}/history")
async def post_history(post_id: IdPath, ctx: Ctx, principal: CurrentUser) -> list[PostEditView]:
    """Earlier versions of a post, for its author and moderators."""
    async with ctx.db.read() as session:
        return await queries.list_history(session, viewer=principal, post_id=post_id)


@router.get("/users/{username}/posts")
async def user_posts(
    username: UsernamePath,
    ctx: Ctx,
    principal: OptionalUser,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[PostView]:
    """A user's posts the caller may see, newest first."""
    async with ctx.db.read() as session:
        return await queries.list_user_posts(
            session,
            viewer=principal,
            username=username,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.put("/posts/{post_id}/like")
async def like(post_id: IdPath, ctx: Ctx, principal: CurrentUser) -> LikeResult:
    """Like a post (idempotent)."""
    from townsquare.domains.feed import actions as feed_actions  # feed builds on posts

    async with ctx.db.transaction() as session:
        created, likes, post = await actions.check_like(
            session, principal=principal, post_id=post_id
        )
        author_id = post.author_id
    if created and author_id != principal.user_id:
        await feed_actions.note_like(ctx, post_id=post_id, author_id=author_id, principal=principal)
    return LikeResult(liked=True, likes=likes)


@router.delete("/posts/{post_id}/like")
async def unlike(post_id: IdPath, ctx: Ctx, principal: CurrentUser) -> LikeResult:
    """Take a like back (idempotent)."""
    async with ctx.db.transaction() as session:
        likes = await actions.check_unlike(session, principal=principal, post_id=post_id)
    return LikeResult(liked=False, likes=likes)


@router.post("/posts/{post_id}/view")
async def view_post(post_id: IdPath, ctx: Ctx, principal: CurrentUser) -> ViewResult:
    """Count a view: once per user per post per day."""
    async with ctx.db.transaction() as session:
        counted, views = await actions.check_view(session, principal=principal, post_id=post_id)
    return ViewResult(counted=counted, views=views)


@router.post("/posts/{post_id}/share", status_code=201)
async def share(post_id: IdPath, body: ShareCreate, ctx: Ctx, principal: CurrentUser) -> PostView:
    """Repost a public post with an optional message."""
    from townsquare.domains.feed import queries as feed_queries

    async with ctx.db.transaction() as session:
        post = await actions.check_share(
            session,
            principal=principal,
            post_id=post_id,
            message=body.message,
            privacy=body.privacy,
            media=ctx.media,
            online=feed_queries.online_filter(ctx),
        )
        [view] = await queries.render_posts(
            session, viewer=principal, posts=[post], media=ctx.media
        )
    return view


@router.post("/posts/{post_id}/report", status_code=201)
async def report(
    post_id: IdPath, body: ReportCreate, ctx: Ctx, principal: CurrentUser
) -> ReportView:
    """Report a post to the moderators."""
    async with ctx.db.transaction() as session:
        row = await actions.check_report(session, principal=principal, post_id=post_id, body=body)
    return ReportView(
        id=row.id,
        post_id=row.post_id,
        reason=body.reason,
        severity=body.severity,
        status=row.status,
        created_at=row.created_at,
    )


@router.get("/posts/{post_id}/comments")
async def list_comments(
    post_id: IdPath,
    ctx: Ctx,
    principal: OptionalUser,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CommentView]:
    """Top-level comments, oldest first."""
    async with ctx.db.read() as session:
        return await queries.list_comments(
            session,
            viewer=principal,
            post_id=post_id,
            parent_id=None,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.post("/posts/{post_id}/comments", status_code=201, responses=RESENT)
async def add_comment(
    post_id: IdPath, body: CommentCreate, ctx: Ctx, principal: CurrentUser, response: Response
) -> CommentView:
    """Comment on a post, or reply with `parent_id`; a known `client_id` returns the original."""
    from townsquare.domains.feed import queries as feed_queries

    def resent(found: CommentView) -> CommentView:
        response.status_code = 200
        return found

    try:
        async with ctx.db.transaction() as session:
            earlier = await queries.get_resent_comment(
                session, author_id=principal.user_id, client_id=body.client_id, media=ctx.media
            )
            if earlier is not None:
                return resent(earlier)
            return await actions.check_comment(
                session,
                principal=principal,
                post_id=post_id,
                text=body.text,
                parent_id=body.parent_id,
                media=ctx.media,
                online=feed_queries.online_filter(ctx),
                client_id=body.client_id,
            )
    except IntegrityError:  # a concurrent twin with the same client_id committed first
        async with ctx.db.read() as session:
            earlier = await queries.get_resent_comment(
                session, author_id=principal.user_id, client_id=body.client_id, media=ctx.media
            )
        if earlier is None:
            raise
        return resent(earlier)


@router.get("/comments/{comment_id}/replies")
async def list_replies(
    comment_id: IdPath,
    ctx: Ctx,
    principal: OptionalUser,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CommentView]:
    """Replies to a comment, oldest first."""
    async with ctx.db.read() as session:
        comment = await queries.access_comment(session, viewer=principal, comment_id=comment_id)
        return await queries.list_comments(
            session,
            viewer=principal,
            post_id=comment.post_id,
            parent_id=comment.id,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.patch("/comments/{comment_id}")
async def update_comment(
    comment_id: IdPath, body: CommentUpdate, ctx: Ctx, principal: CurrentUser
) -> CommentView:
    """Edit one's own comment."""
    async with ctx.db.transaction() as session:
        return await actions.check_update_comment(
            session, principal=principal, comment_id=comment_id, text=body.text, media=ctx.media
        )


@router.delete("/comments/{comment_id}", status_code=204)
async def delete_comment(comment_id: IdPath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Delete a comment (its author, the post's author, or a moderator)."""
    async with ctx.db.transaction() as session:
        await actions.check_delete_comment(session, principal=principal, comment_id=comment_id)
    return Response(status_code=204)
