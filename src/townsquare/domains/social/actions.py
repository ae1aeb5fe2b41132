"""Every write of the social graph; the only place it publishes events.

Each change claims its row with one conditional statement (insert inside a savepoint, or a
delete whose row count says who won), so concurrent requests cannot double-count or
double-create, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.db import rowcount
from townsquare.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from townsquare.core.events import emit, user_room
from townsquare.domains.accounts import actions as accounts_actions
from townsquare.domains.accounts import queries as accounts_queries
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.notifications import actions as notifications
from townsquare.domains.social import queries
from townsquare.domains.social.models import Block, Follow, FriendRequest, Friendship, Mute
from townsquare.domains.social.schemas import (
    FriendRequestAccepted,
    FriendRequestReceived,
    NewFollower,
)


async def access_target(session: AsyncSession, *, principal: Principal, username: str) -> int:
    """The id of another user the caller may act on; missing, banned or blocking: one 404."""
    user = await accounts_queries.get_user_by_username(session, username=username)
    if user is None or user.status == "banned":
        raise NotFound("No such user")
    if user.id == principal.user_id:
        raise ValidationFailed("You cannot do that to yourself", code="self_action")
    if await queries.is_blocked_either_way(session, a=principal.user_id, b=user.id):
        raise NotFound("No such user")
    return user.id


async def _insert(session: AsyncSession, row: object) -> bool:
    """Insert in a savepoint; False when a unique constraint says the row exists already."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """A new pending request, or None when it met the other user's request (now friends)."""

    request: FriendRequest | None


async def check_send_friend_request(
    session: AsyncSession, *, principal: Principal, username: str, message: str | None
) -> RequestOutcome:
    """Ask to be friends; if the other user already asked us, that request is accepted."""
    target_id = await access_target(session, principal=principal, username=username)
    if await queries.are_friends(session, a=principal.user_id, b=target_id):
        raise Conflict("You are friends already", code="already_friends")
    low, high = queries.pair(principal.user_id, target_id)
    existing = await _pending_between(session, low=low, high=high)
    if existing is None:
        settings = await accounts_queries.get_settings(session, user_id=target_id)
        if not settings.allow_friend_requests:
            raise Forbidden(
                "This user does not accept friend requests", code="friend_requests_closed"
            )
        request = FriendRequest(
            sender_id=principal.user_id,
            receiver_id=target_id,
            user_low=low,
            user_high=high,
            message=message or None,
        )
        if await _insert(session, request):
            emit(
                session,
                FriendRequestReceived(
                    request_id=request.id,
                    sender_id=principal.user_id,
                    sender_username=principal.username,
                    message=request.message,
                ),
                to=[user_room(target_id)],
            )
            await notifications.notify(
                session,
                recipient_id=target_id,
                type="friend_request",
                actor_id=principal.user_id,
                target=notifications.Target("friend_request", request.id),
                message=request.message or "",
            )
            return RequestOutcome(request=request)
        existing = await _pending_between(session, low=low, high=high)  # lost a race
        if existing is None:
            raise Conflict("Try again", code="conflict")
    if existing.sender_id == principal.user_id:
        raise Conflict("You already sent a request", code="request_exists")
    await do_accept(session, request=existing)
    return RequestOutcome(request=None)


async def _pending_between(session: AsyncSession, *, low: int, high: int) -> FriendRequest | None:
    query = select(FriendRequest).where(
        FriendRequest.user_low == low, FriendRequest.user_high == high
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _claim_request(session: AsyncSession, request_id: int) -> bool:
    """Delete a pending request; True only for the one caller that actually removed it."""
    result = await session.execute(
        delete(FriendRequest)
        .where(FriendRequest.id == request_id)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


async def do_accept(session: AsyncSession, *, request: FriendRequest) -> None:
    """Turn a pending request into a friendship (both directions) and tell the sender."""
    if not await _claim_request(session, request.id):
        raise NotFound("No such friend request")
    for user_id, friend_id in (
        (request.sender_id, request.receiver_id),
        (request.receiver_id, request.sender_id),
    ):
        await _insert(session, Friendship(user_id=user_id, friend_id=friend_id))
    receiver = await accounts_queries.get_user(session, user_id=request.receiver_id)
    assert receiver is not None
    emit(
        session,
        FriendRequestAccepted(user_id=receiver.id, username=receiver.username),
        to=[user_room(request.sender_id)],
    )
    await notifications.notify(
        session,
        recipient_id=request.sender_id,
        type="friend_accepted",
        actor_id=receiver.id,
        target=notifications.Target("user", receiver.id),
    )


async def _own_request(
    session: AsyncSession, *, request_id: int, user_id: int, as_: str
) -> FriendRequest:
    request = await session.get(FriendRequest, request_id)
    owner = None if request is None else getattr(request, f"{as_}_id")
    if request is None or owner != user_id:
        raise NotFound("No such friend request")
    return request


async def check_accept(session: AsyncSession, *, principal: Principal, request_id: int) -> None:
    """Accept a request sent to the caller."""
    request = await _own_request(
        session, request_id=request_id, user_id=principal.user_id, as_="receiver"
    )
    await do_accept(session, request=request)


async def check_decline(session: AsyncSession, *, principal: Principal, request_id: int) -> None:
    """Decline a request sent to the caller; the sender is not told."""
    request = await _own_request(
        session, request_id=request_id, user_id=principal.user_id, as_="receiver"
    )
    if not await _claim_request(session, request.id):
        raise NotFound("No such friend request")


async def check_cancel(session: AsyncSession, *, principal: Principal, request_id: int) -> None:
    """Withdraw a request the caller sent."""
    request = await _own_request(
        session, request_id=request_id, user_id=principal.user_id, as_="sender"
    )
    if not await _claim_request(session, request.id):
        raise NotFound("No such friend request")


async def do_unfriend(session: AsyncSession, *, a: int, b: int) -> bool:
    """End a friendship in both directions; True when there was one."""
    result = await session.execute(
        delete(Friendship)
        .where(
            or_(
                and_(Friendship.user_id == a, Friendship.friend_id == b),
                and_(Friendship.user_id == b, Friendship.friend_id == a),
            )
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) > 0


async def check_remove_friend(
    session: AsyncSession, *, principal: Principal, username: str
) -> None:
    """End a friendship; 404 when there is none to end."""
    target = await accounts_queries.get_user_by_username(session, username=username)
    if target is None or not await do_unfriend(session, a=principal.user_id, b=target.id):
        raise NotFound("You are not friends with that user")


async def check_follow(session: AsyncSession, *, principal: Principal, username: str) -> bool:
    """Follow a user; following again changes nothing. True when a follow was created."""
    target_id = await access_target(session, principal=principal, username=username)
    created = await _insert(session, Follow(follower_id=principal.user_id, followee_id=target_id))
    if created:
        await accounts_actions.do_bump_counter(
            session, user_id=principal.user_id, column="following_count", delta=1
        )
        await accounts_actions.do_bump_counter(
            session, user_id=target_id, column="followers_count", delta=1
        )
    if created and not await queries.is_muted(
        session, muter_id=target_id, muted_id=principal.user_id
    ):
        emit(
            session,
            NewFollower(follower_id=principal.user_id, follower_username=principal.username),
            to=[user_room(target_id)],
        )
    if created:
        await notifications.notify(
            session,
            recipient_id=target_id,
            type="follow",
            actor_id=principal.user_id,
            target=notifications.Target("user", target_id),
        )
    return created


async def do_unfollow(session: AsyncSession, *, follower_id: int, followee_id: int) -> bool:
    """Remove one follow edge and keep both counters exact; True when there was one."""
    result = await session.execute(
        delete(Follow)
        .where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) == 0:
        return False
    await accounts_actions.do_bump_counter(
        session, user_id=follower_id, column="following_count", delta=-1
    )
    await accounts_actions.do_bump_counter(
        session, user_id=followee_id, column="followers_count", delta=-1
    )
    return True


async def check_unfollow(session: AsyncSession, *, principal: Principal, username: str) -> None:
    """Stop following; unfollowing someone not followed changes nothing."""
    target = await accounts_queries.get_user_by_username(session, username=username)
    if target is None:
        raise NotFound("No such user")
    await do_unfollow(session, follower_id=principal.user_id, followee_id=target.id)


async def check_remove_follower(
    session: AsyncSession, *, principal: Principal, username: str
) -> None:
    """Make someone stop following the caller, without blocking them."""
    target = await accounts_queries.get_user_by_username(session, username=username)
    if target is None or not await do_unfollow(
        session, follower_id=target.id, followee_id=principal.user_id
    ):
        raise NotFound("That user does not follow you")


BlockHook = Callable[[AsyncSession, int, int], Awaitable[None]]
_block_hooks: list[BlockHook] = []


def on_block(hook: BlockHook) -> BlockHook:
    """Let a later domain react to a new block in the same transaction (chat closes the two
    people's direct room stream); social itself knows nothing of those domains."""
    _block_hooks.append(hook)
    return hook


async def check_block(session: AsyncSession, *, principal: Principal, username: str) -> None:
    """Block a user: ends friendship, pending requests and follows both ways. Idempotent."""
    target = await accounts_queries.get_user_by_username(session, username=username)
    if target is None:
        raise NotFound("No such user")
    me = principal.user_id
    if target.id == me:
        raise ValidationFailed("You cannot block yourself", code="self_action")
    if not await _insert(session, Block(blocker_id=me, blocked_id=target.id)):
        return
    await do_unfriend(session, a=me, b=target.id)
    low, high = queries.pair(me, target.id)
    await session.execute(
        delete(FriendRequest)
        .where(FriendRequest.user_low == low, FriendRequest.user_high == high)
        .execution_options(synchronize_session=False)
    )
    await do_unfollow(session, follower_id=me, followee_id=target.id)
    await do_unfollow(session, follower_id=target.id, followee_id=me)
    for hook in _block_hooks:
        await hook(session, me, target.id)


async def check_unblock(session: AsyncSession, *, principal: Principal, username: str) -> None:
    """Lift a block; what it ended (friendship, follows) stays ended."""
    target = await accounts_queries.get_user_by_username(session, username=username)
    if target is None:
        raise NotFound("No such user")
    await session.execute(
        delete(Block)
        .where(Block.blocker_id == principal.user_id, Block.blocked_id == target.id)
        .execution_options(synchronize_session=False)
    )


async def check_mute(session: AsyncSession, *, principal: Principal, username: str) -> None:
    """Hide a user from the caller's feed and notifications; the muted user is not told."""
    target_id = await access_target(session, principal=principal, username=username)
    await _insert(session, Mute(muter_id=principal.user_id, muted_id=target_id))


async def check_unmute(session: AsyncSession, *, principal: Principal, username: str) -> None:
    target = await accounts_queries.get_user_by_username(session, username=username)
    if target is None:
        raise NotFound("No such user")
    await session.execute(
        delete(Mute)
        .where(Mute.muter_id == principal.user_id, Mute.muted_id == target.id)
        .execution_options(synchronize_session=False)
    )
