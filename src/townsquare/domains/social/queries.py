"""Reads of the social graph, with no side effects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.pagination import Page, decode_id_cursor, encode_cursor
from townsquare.domains.accounts import sql as accounts_sql
from townsquare.domains.social.models import Block, Follow, FriendRequest, Friendship, Mute
from townsquare.domains.social.schemas import (
    FriendRequestView,
    ListedUser,
    RelationshipView,
    Suggestion,
    UserSummary,
)
from townsquare.domains.social.sql import hidden_ids_select, muted_ids_select
from townsquare.infra.media import LocalMediaStore


def pair(a: int, b: int) -> tuple[int, int]:
    """The (low, high) key of an unordered pair of users."""
    return (a, b) if a < b else (b, a)


async def are_friends(session: AsyncSession, *, a: int, b: int) -> bool:
    query = select(Friendship.id).where(Friendship.user_id == a, Friendship.friend_id == b)
    return (await session.execute(query)).first() is not None


async def is_blocked_either_way(session: AsyncSession, *, a: int, b: int) -> bool:
    """True when either user blocked the other: they then do not see each other at all."""
    query = select(Block.id).where(
        or_(
            and_(Block.blocker_id == a, Block.blocked_id == b),
            and_(Block.blocker_id == b, Block.blocked_id == a),
        )
    )
    return (await session.execute(query)).first() is not None


async def is_following(session: AsyncSession, *, follower_id: int, followee_id: int) -> bool:
    query = select(Follow.id).where(
        Follow.follower_id == follower_id, Follow.followee_id == followee_id
    )
    return (await session.execute(query)).first() is not None


async def friendship_and_block(session: AsyncSession, *, a: int, b: int) -> tuple[bool, bool]:
    """(friends, blocked either way) in one round trip; profile and post reads need both."""
    friend = select(func.count()).where(Friendship.user_id == a, Friendship.friend_id == b)
    blocked = select(func.count()).where(
        or_(
            and_(Block.blocker_id == a, Block.blocked_id == b),
            and_(Block.blocker_id == b, Block.blocked_id == a),
        )
    )
    row = (await session.execute(select(friend.scalar_subquery(), blocked.scalar_subquery()))).one()
    return bool(row[0]), bool(row[1])


async def hidden_ids(session: AsyncSession, *, viewer_id: int) -> set[int]:
    """Users the viewer blocked or is blocked by."""
    return set((await session.execute(hidden_ids_select(viewer_id))).scalars())


async def is_muted(session: AsyncSession, *, muter_id: int, muted_id: int) -> bool:
    """True when one user muted another: their activity is not told to the muter."""
    query = select(Mute.id).where(Mute.muter_id == muter_id, Mute.muted_id == muted_id)
    return (await session.execute(query)).first() is not None


async def muted_ids(session: AsyncSession, *, viewer_id: int) -> set[int]:
    return set((await session.execute(muted_ids_select(viewer_id))).scalars())


async def muter_ids(session: AsyncSession, *, muted_id: int) -> set[int]:
    """Users who muted this one: what it does is not told to them."""
    query = select(Mute.muter_id).where(Mute.muted_id == muted_id)
    return set((await session.execute(query)).scalars())


async def friend_ids(session: AsyncSession, *, user_id: int) -> set[int]:
    query = select(Friendship.friend_id).where(Friendship.user_id == user_id)
    return set((await session.execute(query)).scalars())


async def following_ids(session: AsyncSession, *, user_id: int) -> set[int]:
    query = select(Follow.followee_id).where(Follow.follower_id == user_id)
    return set((await session.execute(query)).scalars())


async def follower_ids(session: AsyncSession, *, user_id: int) -> set[int]:
    query = select(Follow.follower_id).where(Follow.followee_id == user_id)
    return set((await session.execute(query)).scalars())


async def relationship_view(
    session: AsyncSession, *, viewer_id: int, other_id: int
) -> RelationshipView:
    """Every edge between the caller and one other user."""
    low, high = pair(viewer_id, other_id)
    request = (
        await session.execute(
            select(FriendRequest.sender_id).where(
                FriendRequest.user_low == low, FriendRequest.user_high == high
            )
        )
    ).scalar_one_or_none()
    blocking = (
        await session.execute(
            select(Block.id).where(Block.blocker_id == viewer_id, Block.blocked_id == other_id)
        )
    ).first() is not None
    muting = (
        await session.execute(
            select(Mute.id).where(Mute.muter_id == viewer_id, Mute.muted_id == other_id)
        )
    ).first() is not None
    return RelationshipView(
        is_friend=await are_friends(session, a=viewer_id, b=other_id),
        is_following=await is_following(session, follower_id=viewer_id, followee_id=other_id),
        is_followed_by=await is_following(session, follower_id=other_id, followee_id=viewer_id),
        request_sent=request == viewer_id,
        request_received=request == other_id,
        is_blocking=blocking,
        is_muting=muting,
    )


def summary(columns: Sequence[Any], media: LocalMediaStore) -> UserSummary:
    """A summary from a row of `accounts.sql.summary_columns()`."""
    user_id, username, display_name, thumb = columns
    return UserSummary(
        id=user_id,
        username=username,
        display_name=display_name,
        avatar_thumbnail_url=media.url(thumb),
    )


async def summaries(
    session: AsyncSession, *, user_ids: Sequence[int], media: LocalMediaStore
) -> dict[int, UserSummary]:
    """Summaries of many users in one query."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(*accounts_sql.summary_columns()).where(accounts_sql.user_id().in_(set(user_ids)))
    )  # four columns, not whole rows: lists render many users
    return {row[0]: summary(row, media) for row in rows.all()}


async def _edge_page(
    session: AsyncSession,
    *,
    edge_id: Any,
    other_id: Any,
    owner_filter: Any,
    viewer_id: int | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
    extra: Sequence[Any] = (),
) -> Page[ListedUser]:
    """One page of a list of users reached by one kind of edge, newest edge first."""
    created = edge_id.table.c.created_at
    query = (
        accounts_sql.join_user(select(edge_id, created, *accounts_sql.summary_columns()), other_id)
        .where(owner_filter, accounts_sql.not_banned(), *extra)
        .order_by(edge_id.desc())
        .limit(limit + 1)
    )
    if viewer_id is not None:
        query = query.where(other_id.not_in(hidden_ids_select(viewer_id)))
    if cursor:
        query = query.where(edge_id < decode_id_cursor(cursor))
    rows = list((await session.execute(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [ListedUser(**summary(row[2:], media).model_dump(), since=row[1]) for row in rows]
    next_cursor = encode_cursor({"id": rows[-1][0]}) if more else None
    return Page(items=items, next_cursor=next_cursor)


async def list_friends(
    session: AsyncSession,
    *,
    user_id: int,
    viewer_id: int | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[ListedUser]:
    return await _edge_page(
        session,
        edge_id=Friendship.id,
        other_id=Friendship.friend_id,
        owner_filter=Friendship.user_id == user_id,
        viewer_id=viewer_id,
        cursor=cursor,
        limit=limit,
        media=media,
    )


async def list_followers(
    session: AsyncSession,
    *,
    user_id: int,
    viewer_id: int | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[ListedUser]:
    return await _edge_page(
        session,
        edge_id=Follow.id,
        other_id=Follow.follower_id,
        owner_filter=Follow.followee_id == user_id,
        viewer_id=viewer_id,
        cursor=cursor,
        limit=limit,
        media=media,
    )


async def list_following(
    session: AsyncSession,
    *,
    user_id: int,
    viewer_id: int | None,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[ListedUser]:
    return await _edge_page(
        session,
        edge_id=Follow.id,
        other_id=Follow.followee_id,
        owner_filter=Follow.follower_id == user_id,
        viewer_id=viewer_id,
        cursor=cursor,
        limit=limit,
        media=media,
    )


async def list_blocked(
    session: AsyncSession, *, user_id: int, cursor: str | None, limit: int, media: LocalMediaStore
) -> Page[ListedUser]:
    return await _edge_page(
        session,
        edge_id=Block.id,
        other_id=Block.blocked_id,
        owner_filter=Block.blocker_id == user_id,
        viewer_id=None,
        cursor=cursor,
        limit=limit,
        media=media,
    )


async def list_muted(
    session: AsyncSession, *, user_id: int, cursor: str | None, limit: int, media: LocalMediaStore
) -> Page[ListedUser]:
    return await _edge_page(
        session,
        edge_id=Mute.id,
        other_id=Mute.muted_id,
        owner_filter=Mute.muter_id == user_id,
        viewer_id=None,
        cursor=cursor,
        limit=limit,
        media=media,
    )


async def list_mutual_friends(
    session: AsyncSession,
    *,
    user_id: int,
    other_id: int,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[ListedUser]:
    """Friends both users have, as the first user sees them."""
    theirs = select(Friendship.friend_id).where(Friendship.user_id == other_id)
    return await _edge_page(
        session,
        edge_id=Friendship.id,
        other_id=Friendship.friend_id,
        owner_filter=Friendship.user_id == user_id,
        viewer_id=user_id,
        cursor=cursor,
        limit=limit,
        media=media,
        extra=[Friendship.friend_id.in_(theirs)],
    )


def request_view(request: FriendRequest, users: dict[int, UserSummary]) -> FriendRequestView:
    return FriendRequestView(
        id=request.id,
        sender=users[request.sender_id],
        receiver=users[request.receiver_id],
        message=request.message,
        created_at=request.created_at,
    )


async def list_requests(
    session: AsyncSession,
    *,
    user_id: int,
    direction: str,
    cursor: str | None,
    limit: int,
    media: LocalMediaStore,
) -> Page[FriendRequestView]:
    """Pending requests the user received (`incoming`) or sent (`outgoing`), newest first."""
    column = FriendRequest.receiver_id if direction == "incoming" else FriendRequest.sender_id
    query = (
        select(FriendRequest).where(column == user_id).order_by(FriendRequest.id.desc())
    ).limit(limit + 1)
    if cursor:
        query = query.where(FriendRequest.id < decode_id_cursor(cursor))
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r.sender_id for r in rows] + [r.receiver_id for r in rows]
    users = await summaries(session, user_ids=ids, media=media)
    items = [request_view(r, users) for r in rows]
    return Page(items=items, next_cursor=encode_cursor({"id": rows[-1].id}) if more else None)


SUGGESTION_CANDIDATES = 2000


async def suggestions(
    session: AsyncSession, *, user_id: int, limit: int, media: LocalMediaStore
) -> list[Suggestion]:
    """Friends of friends and people who follow what I follow, ranked by how much we share.

    Excludes me, my friends, anyone with a pending request either way, and blocks either way.
    """
    f1 = Friendship.__table__.alias("f1")
    f2 = Friendship.__table__.alias("f2")
    s1 = Follow.__table__.alias("s1")
    s2 = Follow.__table__.alias("s2")
    fof = (
        select(f2.c.friend_id.label("cand"), literal(1).label("m"), literal(0).label("s"))
        .select_from(f1.join(f2, f2.c.user_id == f1.c.friend_id))
        .where(f1.c.user_id == user_id)
        .limit(SUGGESTION_CANDIDATES)
    )
    shared = (
        select(s2.c.follower_id.label("cand"), literal(0).label("m"), literal(1).label("s"))
        .select_from(s1.join(s2, s2.c.followee_id == s1.c.followee_id))
        .where(s1.c.follower_id == user_id)
        .limit(SUGGESTION_CANDIDATES)
    )
    both = union_all(fof.subquery().select(), shared.subquery().select()).subquery()
    pending = (
        select(FriendRequest.receiver_id)
        .where(FriendRequest.sender_id == user_id)
        .union(select(FriendRequest.sender_id).where(FriendRequest.receiver_id == user_id))
    )
    mine = select(Friendship.friend_id).where(Friendship.user_id == user_id)
    ranked = (
        select(both.c.cand, func.sum(both.c.m).label("m"), func.sum(both.c.s).label("s"))
        .where(
            both.c.cand != user_id,
            both.c.cand.not_in(mine),
            both.c.cand.not_in(pending),
            both.c.cand.not_in(hidden_ids_select(user_id)),
        )
        .group_by(both.c.cand)
        .order_by((func.sum(both.c.m) * 2 + func.sum(both.c.s)).desc(), both.c.cand)
        .limit(limit)
    ).subquery()
    user_id_column = accounts_sql.user_id()
    rows = (
        await session.execute(
            select(*accounts_sql.summary_columns(), ranked.c.m, ranked.c.s)
            .join(ranked, ranked.c.cand == user_id_column)
            .where(accounts_sql.is_active())
            .order_by((ranked.c.m * 2 + ranked.c.s).desc(), user_id_column)
        )
    ).all()
    return [
        Suggestion(
            **summary(row[:4], media).model_dump(), mutual_friends=row[4], shared_follows=row[5]
        )
        for row in rows
    ]
