"""Every write of posts and their interactions; the only place they publish events.

Engagement counters change only by `x = x + n` in SQL, after the row that justifies the change
was claimed (an insert that did not collide, a delete that removed a row), so concurrent
likes, views and shares keep them exact on both backends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.clock import utcnow
from townsquare.core.db import rowcount
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.events import emit, user_room
from townsquare.core.text import find_mentions, find_tags, plain, sanitize
from townsquare.domains.accounts import actions as accounts_actions
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.notifications import actions as notifications
from townsquare.domains.posts import policy, queries, uploads
from townsquare.domains.posts.models import (
    Comment,
    Post,
    PostEdit,
    PostLike,
    PostMedia,
    PostMention,
    PostReport,
    PostTag,
    PostView,
)
from townsquare.domains.posts.schemas import (
    CommentView,
    NewComment,
    NewPost,
    PostCommented,
    PostCreate,
    PostMentioned,
    PostShared,
    PostUpdate,
    ReportCreate,
)
from townsquare.domains.social import queries as social_queries
from townsquare.infra import images, jobs
from townsquare.infra.media import LocalMediaStore

NOTIFY_FOLLOWERS_JOB = "posts.notify_followers"
OnlineFilter = Callable[[list[int]], Awaitable[list[int]]]
"""Narrows user ids to those connected to a gateway: live events go only to them."""


async def _insert(session: AsyncSession, row: object) -> bool:
    """Insert in a savepoint; False when the row exists already (a unique key collided)."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def _bump(session: AsyncSession, model: type, row_id: int, **deltas: int) -> None:
    """Add to counters of one row in SQL, so concurrent writers never lose an update."""
    values = {name: getattr(model, name) + delta for name, delta in deltas.items()}
    await session.execute(
        update(model)
        .where(model.id == row_id)  # type: ignore[attr-defined]
        .values(values)
        .execution_options(synchronize_session=False)
    )


async def _affinity(session: AsyncSession, *, user_id: int, author_id: int, kind: str) -> None:
    """Engagement feeds the relationship score of the feed ranking."""
    from townsquare.domains.feed import actions as feed_actions  # the feed builds on posts

    await feed_actions.do_record_affinity(session, user_id=user_id, author_id=author_id, kind=kind)


def _check_text(text: str) -> str:
    clean = sanitize(text)
    if len(clean) > 5000:
        raise ValidationFailed("The text is too long once made safe", code="text_too_long")
    return clean


async def _resolve_mentions(
    session: AsyncSession, *, author_id: int, names: list[str]
) -> list[tuple[int, str]]:
    """(id, username) of users named with @; unknown, banned and blocked names stay plain text."""
    if not names:
        return []
    hidden = await social_queries.hidden_ids(session, viewer_id=author_id)
    users = await accounts_queries.usernames_in_standing(session, usernames=names)
    return [(uid, name) for uid, name in users if uid not in hidden and uid != author_id]


async def _set_tags_and_mentions(
    session: AsyncSession, *, post: Post, explicit_tags: list[str], announce: bool
) -> None:
    """(Re)write a post's hashtag and mention rows from its text and explicit tags."""
    post.tags = find_tags(post.text, explicit_tags)
    await session.execute(delete(PostTag).where(PostTag.post_id == post.id))
    old = set(
        (
            await session.execute(select(PostMention.user_id).where(PostMention.post_id == post.id))
        ).scalars()
    )
    await session.execute(delete(PostMention).where(PostMention.post_id == post.id))
    for tag in post.tags:
        session.add(PostTag(post_id=post.id, tag=tag))
    mentioned = await _resolve_mentions(
        session, author_id=post.author_id, names=find_mentions(post.text)
    )
    post.mentions = [name for _, name in mentioned]
    author = await accounts_queries.get_user(session, user_id=post.author_id)
    assert author is not None
    for user_id, _ in mentioned:
        session.add(PostMention(post_id=post.id, user_id=user_id))
        if (
            announce
            and user_id not in old
            and not await social_queries.is_muted(session, muter_id=user_id, muted_id=author.id)
        ):
            emit(
                session,
                PostMentioned(
                    post_id=post.id, author_id=author.id, author_username=author.username
                ),
                to=[user_room(user_id)],
            )
        if announce and user_id not in old:
            await notifications.notify(
                session,
                recipient_id=user_id,
                type="mention",
                actor_id=author.id,
                target=notifications.Target("post", post.id),
                message=plain(post.text)[:200],
            )
    await session.flush()


async def check_create_post(
    session: AsyncSession,
    *,
    principal: Principal,
    body: PostCreate,
    media: LocalMediaStore,
    shared_post_id: int | None = None,
    online: OnlineFilter | None = None,
) -> Post:
    """Publish a post: sanitized text, tags, mentions, up to four of the caller's uploads."""
    text = _check_text(body.text)
    if not plain(text).strip() and not body.media_ids and shared_post_id is None:
        raise ValidationFailed("A post needs text or media", code="empty_post")
    meta = body.metadata.model_dump(exclude_none=True) if body.metadata else {}
    post = Post(
        author_id=principal.user_id,
        text=text,
        type=body.type,
        privacy=body.privacy,
        meta=meta,
        shared_post_id=shared_post_id,
        client_id=body.client_id,
    )
    session.add(post)
    await session.flush()
    media_ids = list(dict.fromkeys(body.media_ids))
    if media_ids:
        attached = await session.execute(
            update(PostMedia)
            .where(
                PostMedia.id.in_(media_ids),
                PostMedia.owner_id == principal.user_id,
                PostMedia.post_id.is_(None),
            )
            .values(post_id=post.id)
            .execution_options(synchronize_session=False)
        )
        if rowcount(attached) != len(media_ids):
            raise ValidationFailed(
                "Attach only your own uploads, each to one post", code="invalid_media"
            )
    await _set_tags_and_mentions(session, post=post, explicit_tags=body.tags, announce=True)
    await accounts_actions.do_bump_counter(
        session, user_id=principal.user_id, column="posts_count", delta=1
    )
    await _announce_post(session, post=post, principal=principal, media=media, online=online)
    return post


async def live_audience(
    session: AsyncSession,
    *,
    author_id: int,
    privacy: str,
    actor_id: int | None = None,
    online: OnlineFilter | None = None,
) -> tuple[set[int], set[int]]:
    """Who gets a post's live events: (everyone in its network, those who follow the author).

    Followers and friends of the author, narrowed by privacy, minus blocks either way with the
    author (and with the actor, for comments) and minus anyone who muted them.
    """
    followers = await social_queries.follower_ids(session, user_id=author_id)
    friends = await social_queries.friend_ids(session, user_id=author_id)
    if privacy == "private":
        network: set[int] = set()
    elif privacy == "friends":
        network = set(friends)
    else:
        network = followers | friends
    network.add(author_id)
    people = {author_id} | ({actor_id} if actor_id else set())
    excluded: set[int] = set()
    for person in people:
        excluded |= await social_queries.hidden_ids(session, viewer_id=person)
        excluded |= await social_queries.muter_ids(session, muted_id=person)
    network -= excluded  # for a comment this drops the author too if they muted the actor
    if online is not None:  # nobody offline can receive a live event: do not address them
        network = set(await online(sorted(network)))
    return network, followers & network


def feed_rooms(network: set[int], followers: set[int], post_type: str) -> list[str]:
    """One room per reader: `feed:<user>:following:<type>` for followers of the author, else
    `feed:<user>:<type>`; a subscription without `following_only` joins both kinds."""
    return [
        f"feed:{uid}:following:{post_type}" if uid in followers else f"feed:{uid}:{post_type}"
        for uid in network
    ]


async def _announce_post(
    session: AsyncSession,
    *,
    post: Post,
    principal: Principal,
    media: LocalMediaStore,
    online: OnlineFilter | None,
) -> None:
    network, followers = await live_audience(
        session, author_id=post.author_id, privacy=post.privacy
    )
    if post.shared_post_id is None and followers - {post.author_id}:
        # followers' notifications after commit, in chunks: the author does not wait for them
        jobs.defer(session, NOTIFY_FOLLOWERS_JOB, {"post_id": str(post.id)})
    if online is not None:  # live events only reach connected readers
        network = set(await online(sorted(network)))
        followers &= network
    if not network:
        return
    [view] = await queries.render_posts(session, viewer=principal, posts=[post], media=media)
    view = view.model_copy(update={"liked_by_me": False})
    emit(session, NewPost(post=view), to=feed_rooms(network, followers, post.type))


async def _own_post(session: AsyncSession, *, principal: Principal, post_id: int) -> Post:
    post = await queries.access_post(session, viewer=principal, post_id=post_id)
    if not policy.can_edit(principal, author_id=post.author_id):
        raise NotFound("No such post")  # others' posts are not editable, whoever sees them
    return post


async def check_update_post(
    session: AsyncSession, *, principal: Principal, post_id: int, body: PostUpdate
) -> Post:
    """Edit a post, keeping the previous text and tags in its history."""
    post = await _own_post(session, principal=principal, post_id=post_id)
    sent = body.model_fields_set
    text_changed = body.text is not None and _check_text(body.text) != post.text
    tags_changed = body.tags is not None
    if text_changed or tags_changed:
        explicit = body.tags if body.tags is not None else _explicit_tags(post)
        session.add(
            PostEdit(post_id=post.id, editor_id=principal.user_id, text=post.text, tags=post.tags)
        )
        if body.text is not None:
            new_text = _check_text(body.text)
            if not plain(new_text).strip() and post.shared_post_id is None:
                has_media = (
                    await session.execute(select(func.count()).where(PostMedia.post_id == post.id))
                ).scalar_one()
                if not has_media:
                    raise ValidationFailed("A post needs text or media", code="empty_post")
            post.text = new_text
        await _set_tags_and_mentions(session, post=post, explicit_tags=explicit, announce=True)
        post.is_edited = True
    if body.type is not None:
        post.type = body.type
    if body.privacy is not None:
        post.privacy = body.privacy
    if "metadata" in sent:
        post.meta = body.metadata.model_dump(exclude_none=True) if body.metadata else {}
    post.updated_at = utcnow()
    return post


def _explicit_tags(post: Post) -> list[str]:
    """Tags not found in the text were given explicitly; an edit of the text keeps them."""
    in_text = set(find_tags(post.text, []))
    return [t for t in post.tags or [] if t not in in_text]


async def check_delete_post(
    session: AsyncSession, *, principal: Principal, post_id: int
) -> list[str]:
    """Delete a post (author or staff); returns media keys to remove after commit."""
    post = await queries.access_post(session, viewer=principal, post_id=post_id)
    if not policy.can_delete(principal, author_id=post.author_id):
        raise NotFound("No such post")
    rows = (await session.execute(select(PostMedia).where(PostMedia.post_id == post.id))).scalars()
    keys = [k for row in rows for k in (row.key, row.thumb_key) if k]
    result = await session.execute(
        delete(Post).where(Post.id == post.id).execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise NotFound("No such post")
    await accounts_actions.do_bump_counter(
        session, user_id=post.author_id, column="posts_count", delta=-1
    )
    if post.shared_post_id is not None:
        await _bump(session, Post, post.shared_post_id, shares_count=-1)
    session.expunge(post)
    return keys


async def check_like(
    session: AsyncSession, *, principal: Principal, post_id: int
) -> tuple[bool, int, Post]:
    """Like a post (idempotent); returns (newly liked, likes now, post)."""
    post = await queries.access_post(session, viewer=principal, post_id=post_id)
    created = await _insert(session, PostLike(post_id=post.id, user_id=principal.user_id))
    if created:
        await _bump(session, Post, post.id, likes_count=1)
        await _affinity(session, user_id=principal.user_id, author_id=post.author_id, kind="like")
        await notifications.notify(
            session,
            recipient_id=post.author_id,
            type="like",
            actor_id=principal.user_id,
            target=notifications.Target("post", post.id),
        )
    return created, await _count(session, post.id, Post.likes_count), post


async def check_unlike(session: AsyncSession, *, principal: Principal, post_id: int) -> int:
    """Take a like back (idempotent); returns the likes now."""
    post = await queries.access_post(session, viewer=principal, post_id=post_id)
    removed = await session.execute(
        delete(PostLike)
        .where(PostLike.post_id == post.id, PostLike.user_id == principal.user_id)
        .execution_options(synchronize_session=False)
    )
    if rowcount(removed):
        await _bump(session, Post, post.id, likes_count=-1)
    return await _count(session, post.id, Post.likes_count)


async def _count(session: AsyncSession, post_id: int, column: object) -> int:
    value = (await session.execute(select(column).where(Post.id == post_id))).scalar_one()  # type: ignore[call-overload]
    return int(value)


def _today() -> int:
    return (utcnow() - datetime(1970, 1, 1, tzinfo=UTC)).days


async def check_view(
    session: AsyncSession, *, principal: Principal, post_id: int
) -> tuple[bool, int]:
    """Count a view once per user per post per UTC day; the author's own views do not count."""
    post = await queries.access_post(session, viewer=principal, post_id=post_id)
    counted = False
    if post.author_id != principal.user_id:
        counted = await _insert(
            session, PostView(post_id=post.id, user_id=principal.user_id, day=_today())
        )
        if counted:
            await _bump(session, Post, post.id, views_count=1)
    return counted, await _count(session, post.id, Post.views_count)


async def check_share(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: int,
    message: str,
    privacy: str,
    media: LocalMediaStore,
    online: OnlineFilter | None = None,
) -> Post:
    """Repost a public post (a share of a share shares the original), with an optional note."""
    original = await queries.access_post(session, viewer=principal, post_id=post_id)
    if original.shared_post_id is not None:
        original = await queries.access_post(
            session, viewer=principal, post_id=original.shared_post_id
        )
    if original.privacy != "public":
        raise ValidationFailed("Only public posts can be shared", code="not_shareable")
    share = await check_create_post(
        session,
        principal=principal,
        body=PostCreate(text=message, privacy=privacy, type=original.type),
        media=media,
        shared_post_id=original.id,
        online=online,
    )
    await _bump(session, Post, original.id, shares_count=1)
    await _affinity(session, user_id=principal.user_id, author_id=original.author_id, kind="share")
    if original.author_id != principal.user_id and not await social_queries.is_muted(
        session, muter_id=original.author_id, muted_id=principal.user_id
    ):
        emit(
            session,
            PostShared(
                post_id=original.id,
                share_id=share.id,
                user_id=principal.user_id,
                username=principal.username,
            ),
            to=[user_room(original.author_id)],
        )
    await notifications.notify(
        session,
        recipient_id=original.author_id,
        type="share",
        actor_id=principal.user_id,
        target=notifications.Target("post", original.id),
        data={"share_id": str(share.id)},
    )
    return share


async def check_report(
    session: AsyncSession, *, principal: Principal, post_id: int, body: ReportCreate
) -> PostReport:
    """Store a report for moderators; one per reporter per post."""
    post = await queries.access_post(session, viewer=principal, post_id=post_id)
    if post.author_id == principal.user_id:
        raise ValidationFailed("You cannot report your own post", code="self_action")
    report = PostReport(
        post_id=post.id,
        reporter_id=principal.user_id,
        reason=body.reason,
        severity=body.severity,
        details=body.details,
    )
    if not await _insert(session, report):
        raise Conflict("You reported this post already", code="already_reported")
    await _bump(session, Post, post.id, reports_count=1)
    return report


async def check_comment(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: int,
    text: str,
    parent_id: int | None,
    media: LocalMediaStore,
    online: OnlineFilter | None = None,
    client_id: str | None = None,
) -> CommentView:
    """Comment on a visible post, or reply to one of its top-level comments."""
    post = await queries.access_post(session, viewer=principal, post_id=post_id)
    clean = sanitize(text)
    if not plain(clean).strip():
        raise ValidationFailed("A comment needs text", code="empty_comment")
    parent = None
    if parent_id is not None:
        parent = await queries.access_comment(session, viewer=principal, comment_id=parent_id)
        if parent.post_id != post.id:
            raise NotFound("No such comment")
        if parent.parent_id is not None:
            raise ValidationFailed("Replies go one level deep", code="reply_depth")
    comment = Comment(
        post_id=post.id,
        author_id=principal.user_id,
        parent_id=parent_id,
        text=clean,
        client_id=client_id,
    )
    session.add(comment)
    await session.flush()
    await _bump(session, Post, post.id, comments_count=1)
    await _affinity(session, user_id=principal.user_id, author_id=post.author_id, kind="comment")
    if parent is not None:
        await _bump(session, Comment, parent.id, replies_count=1)
    await session.refresh(comment)
    users = await social_queries.summaries(session, user_ids=[principal.user_id], media=media)
    view = queries.comment_view(comment, users[principal.user_id])
    told = {principal.user_id}
    for target in (post.author_id, parent.author_id if parent else None):
        if target is None or target in told:
            continue
        if await social_queries.is_muted(session, muter_id=target, muted_id=principal.user_id):
            continue
        told.add(target)
        emit(
            session,
            PostCommented(
                post_id=post.id,
                comment_id=comment.id,
                user_id=principal.user_id,
                username=principal.username,
            ),
            to=[user_room(target)],
        )
        await notifications.notify(
            session,
            recipient_id=target,
            type="reply" if parent is not None and target == parent.author_id else "comment",
            actor_id=principal.user_id,
            target=notifications.Target("post", post.id),
            data={"comment_id": str(comment.id)},
            message=plain(clean)[:200],
        )
    network, followers = await live_audience(
        session,
        author_id=post.author_id,
        privacy=post.privacy,
        actor_id=principal.user_id,
        online=online,
    )
    if network:
        emit(session, NewComment(comment=view), to=feed_rooms(network, followers, post.type))
    return view


async def _own_comment(session: AsyncSession, *, principal: Principal, comment_id: int) -> Comment:
    comment = await queries.access_comment(session, viewer=principal, comment_id=comment_id)
    if comment.author_id != principal.user_id:
        raise NotFound("No such comment")
    return comment


async def check_update_comment(
    session: AsyncSession,
    *,
    principal: Principal,
    comment_id: int,
    text: str,
    media: LocalMediaStore,
) -> CommentView:
    """Edit one's own comment."""
    comment = await _own_comment(session, principal=principal, comment_id=comment_id)
    clean = sanitize(text)
    if not plain(clean).strip():
        raise ValidationFailed("A comment needs text", code="empty_comment")
    comment.text = clean
    comment.is_edited = True
    comment.updated_at = utcnow()
    users = await social_queries.summaries(session, user_ids=[principal.user_id], media=media)
    return queries.comment_view(comment, users[principal.user_id])


async def check_delete_comment(
    session: AsyncSession, *, principal: Principal, comment_id: int
) -> None:
    """Delete a comment (its author, the post's author, or staff) and its replies."""
    comment = await queries.access_comment(session, viewer=principal, comment_id=comment_id)
    post = await session.get(Post, comment.post_id)
    assert post is not None
    allowed = comment.author_id == principal.user_id or policy.can_delete(
        principal, author_id=post.author_id
    )
    if not allowed:
        raise NotFound("No such comment")
    replies = (
        await session.execute(select(func.count()).where(Comment.parent_id == comment.id))
    ).scalar_one()
    result = await session.execute(
        delete(Comment).where(Comment.id == comment.id).execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise NotFound("No such comment")
    await session.execute(
        delete(Comment)
        .where(Comment.parent_id == comment.id)
        .execution_options(synchronize_session=False)
    )
    await _bump(session, Post, post.id, comments_count=-(1 + int(replies)))
    if comment.parent_id is not None:
        await _bump(session, Comment, comment.parent_id, replies_count=-1)


async def do_store_upload(
    session: AsyncSession,
    *,
    principal: Principal,
    upload: images.ProcessedUpload,
    media: LocalMediaStore,
) -> PostMedia:
    """Save an upload's files and record it, unattached, for the caller's next post."""
    key = media.new_key("posts", upload.suffix)
    await media.save(key, upload.data)
    thumb_key = None
    if upload.thumbnail is not None:
        thumb_key = media.new_key("posts", ".thumb.webp")
        await media.save(thumb_key, upload.thumbnail)
    row = PostMedia(
        owner_id=principal.user_id,
        kind=upload.kind,
        content_type=upload.content_type,
        key=key,
        thumb_key=thumb_key,
        size=len(upload.data),
        width=upload.width,
        height=upload.height,
    )
    session.add(row)
    await session.flush()
    return row


async def do_store_received(
    session: AsyncSession,
    *,
    principal: Principal,
    incoming: uploads.Incoming,
    described: uploads.Described,
    media: LocalMediaStore,
) -> PostMedia:
    """Move a streamed video or GIF into the media folder and record it, unattached."""
    key = media.new_key("posts", described.suffix)
    await uploads.keep(incoming, media_root=media.root, key=key)
    row = PostMedia(
        owner_id=principal.user_id,
        kind=described.kind,
        content_type=described.content_type,
        key=key,
        thumb_key=None,
        size=incoming.size,
        width=described.width,
        height=described.height,
    )
    session.add(row)
    await session.flush()
    return row
