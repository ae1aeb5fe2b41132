"""HTTP routes of the social graph: parse, authorize, call the action, shape the reply."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from townsquare.core.errors import NotFound
from townsquare.core.pagination import DEFAULT_LIMIT, Page
from townsquare.core.params import Cursor, IdPath, Limit, UsernamePath
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts.dependencies import Ctx, CurrentUser, OptionalUser
from townsquare.domains.social import actions, queries
from townsquare.domains.social.schemas import (
    FriendRequestCreate,
    FriendRequestOutcome,
    FriendRequestView,
    ListedUser,
    RelationshipView,
    Suggestion,
)

router = APIRouter(prefix="/api/v1", tags=["social"])


@router.post("/friends/requests", status_code=201)
async def send_friend_request(
    body: FriendRequestCreate, ctx: Ctx, principal: CurrentUser
) -> Response:
    """Ask someone to be friends; 200 with `friends` when they had already asked you."""
    async with ctx.db.transaction() as session:
        outcome = await actions.check_send_friend_request(
            session, principal=principal, username=body.username, message=body.message
        )
        if outcome.request is None:
            reply = FriendRequestOutcome(status="friends")
            return JSONResponse(reply.model_dump(mode="json"), status_code=200)
        users = await queries.summaries(
            session,
            user_ids=[outcome.request.sender_id, outcome.request.receiver_id],
            media=ctx.media,
        )
        view = queries.request_view(outcome.request, users)
    reply = FriendRequestOutcome(status="pending", request=view)
    return JSONResponse(reply.model_dump(mode="json"), status_code=201)


@router.get("/friends/requests/incoming")
async def incoming_requests(
    ctx: Ctx, principal: CurrentUser, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[FriendRequestView]:
    """Requests others sent the caller, newest first."""
    async with ctx.db.read() as session:
        return await queries.list_requests(
            session,
            user_id=principal.user_id,
            direction="incoming",
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.get("/friends/requests/outgoing")
async def outgoing_requests(
    ctx: Ctx, principal: CurrentUser, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[FriendRequestView]:
    """Requests the caller sent that are still pending, newest first."""
    async with ctx.db.read() as session:
        return await queries.list_requests(
            session,
            user_id=principal.user_id,
            direction="outgoing",
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.post("/friends/requests/{request_id}/accept", status_code=204)
async def accept_request(request_id: IdPath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Accept a request sent to the caller."""
    async with ctx.db.transaction() as session:
        await actions.check_accept(session, principal=principal, request_id=request_id)
    return Response(status_code=204)


@router.post("/friends/requests/{request_id}/decline", status_code=204)
async def decline_request(request_id: IdPath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Decline a request sent to the caller."""
    async with ctx.db.transaction() as session:
        await actions.check_decline(session, principal=principal, request_id=request_id)
    return Response(status_code=204)


@router.delete("/friends/requests/{request_id}", status_code=204)
async def cancel_request(request_id: IdPath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Withdraw a request the caller sent."""
    async with ctx.db.transaction() as session:
        await actions.check_cancel(session, principal=principal, request_id=request_id)
    return Response(status_code=204)


@router.get("/friends/suggestions")
async def friend_suggestions(
    ctx: Ctx, principal: CurrentUser, limit: Limit = DEFAULT_LIMIT
) -> list[Suggestion]:
    """People the caller may know, by mutual friends and shared follows."""
    async with ctx.db.read() as session:
        return await queries.suggestions(
            session, user_id=principal.user_id, limit=limit, media=ctx.media
        )


@router.get("/friends")
async def my_friends(
    ctx: Ctx, principal: CurrentUser, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[ListedUser]:
    """The caller's friends, newest friendship first."""
    async with ctx.db.read() as session:
        return await queries.list_friends(
            session,
            user_id=principal.user_id,
            viewer_id=principal.user_id,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.delete("/friends/{username}", status_code=204)
async def remove_friend(username: UsernamePath, ctx: Ctx, principal: CurrentUser) -> Response:
    """End a friendship."""
    async with ctx.db.transaction() as session:
        await actions.check_remove_friend(session, principal=principal, username=username)
    return Response(status_code=204)


@router.get("/followers")
async def my_followers(
    ctx: Ctx, principal: CurrentUser, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[ListedUser]:
    """Who follows the caller, newest first."""
    async with ctx.db.read() as session:
        return await queries.list_followers(
            session,
            user_id=principal.user_id,
            viewer_id=principal.user_id,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.delete("/followers/{username}", status_code=204)
async def remove_follower(username: UsernamePath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Make someone stop following the caller without blocking them."""
    async with ctx.db.transaction() as session:
        await actions.check_remove_follower(session, principal=principal, username=username)
    return Response(status_code=204)


@router.get("/following")
async def my_following(
    ctx: Ctx, principal: CurrentUser, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[ListedUser]:
    """Whom the caller follows, newest first."""
    async with ctx.db.read() as session:
        return await queries.list_following(
            session,
            user_id=principal.user_id,
            viewer_id=principal.user_id,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.put("/following/{username}", status_code=204)
async def follow(username: UsernamePath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Follow a user (idempotent)."""
    async with ctx.db.transaction() as session:
        await actions.check_follow(session, principal=principal, username=username)
    return Response(status_code=204)


@router.delete("/following/{username}", status_code=204)
async def unfollow(username: UsernamePath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Stop following a user (idempotent)."""
    async with ctx.db.transaction() as session:
        await actions.check_unfollow(session, principal=principal, username=username)
    return Response(status_code=204)


@router.get("/blocks")
async def my_blocks(
    ctx: Ctx, principal: CurrentUser, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[ListedUser]:
    """Users the caller blocked."""
    async with ctx.db.read() as session:
        return await queries.list_blocked(
            session, user_id=principal.user_id, cursor=cursor, limit=limit, media=ctx.media
        )


@router.put("/blocks/{username}", status_code=204)
async def block(username: UsernamePath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Block a user (idempotent): both stop seeing each other; friendship and follows end."""
    async with ctx.db.transaction() as session:
        await actions.check_block(session, principal=principal, username=username)
    return Response(status_code=204)


@router.delete("/blocks/{username}", status_code=204)
async def unblock(username: UsernamePath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Lift a block."""
    async with ctx.db.transaction() as session:
        await actions.check_unblock(session, principal=principal, username=username)
    return Response(status_code=204)


@router.get("/mutes")
async def my_mutes(
    ctx: Ctx, principal: CurrentUser, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[ListedUser]:
    """Users the caller muted."""
    async with ctx.db.read() as session:
        return await queries.list_muted(
            session, user_id=principal.user_id, cursor=cursor, limit=limit, media=ctx.media
        )


@router.put("/mutes/{username}", status_code=204)
async def mute(username: UsernamePath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Mute a user (idempotent); they are not told."""
    async with ctx.db.transaction() as session:
        await actions.check_mute(session, principal=principal, username=username)
    return Response(status_code=204)


@router.delete("/mutes/{username}", status_code=204)
async def unmute(username: UsernamePath, ctx: Ctx, principal: CurrentUser) -> Response:
    """Unmute a user."""
    async with ctx.db.transaction() as session:
        await actions.check_unmute(session, principal=principal, username=username)
    return Response(status_code=204)


async def _visible_owner(ctx: Ctx, principal: OptionalUser, username: str) -> int:
    """The id of a user whose profile the caller may see (their graph is as private)."""
    async with ctx.db.read() as session:
        profile = await accounts_queries.access_profile(
            session, viewer=principal, username=username, media=ctx.media
        )
    return profile.id


@router.get("/users/{username}/friends")
async def user_friends(
    username: UsernamePath,
    ctx: Ctx,
    principal: OptionalUser,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ListedUser]:
    """A user's friends, if the caller may see their profile."""
    owner_id = await _visible_owner(ctx, principal, username)
    async with ctx.db.read() as session:
        return await queries.list_friends(
            session,
            user_id=owner_id,
            viewer_id=principal.user_id if principal else None,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.get("/users/{username}/followers")
async def user_followers(
    username: UsernamePath,
    ctx: Ctx,
    principal: OptionalUser,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ListedUser]:
    """A user's followers, if the caller may see their profile."""
    owner_id = await _visible_owner(ctx, principal, username)
    async with ctx.db.read() as session:
        return await queries.list_followers(
            session,
            user_id=owner_id,
            viewer_id=principal.user_id if principal else None,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.get("/users/{username}/following")
async def user_following(
    username: UsernamePath,
    ctx: Ctx,
    principal: OptionalUser,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ListedUser]:
    """Whom a user follows, if the caller may see their profile."""
    owner_id = await _visible_owner(ctx, principal, username)
    async with ctx.db.read() as session:
        return await queries.list_following(
            session,
            user_id=owner_id,
            viewer_id=principal.user_id if principal else None,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.get("/users/{username}/mutual-friends")
async def mutual_friends(
    username: UsernamePath,
    ctx: Ctx,
    principal: CurrentUser,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ListedUser]:
    """Friends the caller and another user have in common."""
    owner_id = await _visible_owner(ctx, principal, username)
    async with ctx.db.read() as session:
        return await queries.list_mutual_friends(
            session,
            user_id=principal.user_id,
            other_id=owner_id,
            cursor=cursor,
            limit=limit,
            media=ctx.media,
        )


@router.get("/users/{username}/relationship")
async def relationship(
    username: UsernamePath, ctx: Ctx, principal: CurrentUser
) -> RelationshipView:
    """Every edge between the caller and another user (for profile buttons)."""
    async with ctx.db.read() as session:
        target = await accounts_queries.get_user_by_username(session, username=username)
        if target is None or target.status == "banned":
            raise NotFound("No such user")
        view = await queries.relationship_view(
            session, viewer_id=principal.user_id, other_id=target.id
        )
        blocked = await queries.is_blocked_either_way(session, a=principal.user_id, b=target.id)
        if blocked and not view.is_blocking:
            raise NotFound("No such user")  # they blocked the caller: as if they did not exist
        return view
