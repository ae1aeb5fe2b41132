"""Demo friendships and follows (called by townsquare.demo, before the posts that use them).

The dozen hand-made members get a small graph; a generated community about 100 edges per
member, mostly among neighbours (so suggestions have shared friends to count), some toward a
few popular members, bulk-inserted in batches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.bulk import bulk_insert
from townsquare.core.ids import new_id
from townsquare.domains.social.models import Follow, Friendship

BATCH = 100_000
FRIENDS = (
    ("ana_lima", "ben_carter"),
    ("ana_lima", "chen_wei"),
    ("ben_carter", "chen_wei"),
    ("ana_lima", "fatima_zahra"),
    ("dara_nolan", "eli_cohen"),
    ("hana_sato", "ivan_petrov"),
    ("julia_rossi", "ana_lima"),
    ("admin", "mod_maya"),
    ("gus_berg", "hana_sato"),
)
FOLLOWS = (
    ("ben_carter", "julia_rossi"),
    ("chen_wei", "julia_rossi"),
    ("eli_cohen", "julia_rossi"),
    ("fatima_zahra", "ana_lima"),
    ("ivan_petrov", "chen_wei"),
    ("hana_sato", "dara_nolan"),
    ("ana_lima", "dara_nolan"),
    ("mod_maya", "ana_lima"),
)


async def add_member_graph(session: AsyncSession, *, ids: dict[str, int]) -> None:
    """Friendships (both directions) and follows among the demo members present in `ids`."""
    friend_rows = [
        {"id": new_id(), "user_id": ids[x], "friend_id": ids[y]}
        for a, b in FRIENDS
        if a in ids and b in ids
        for x, y in ((a, b), (b, a))
    ]
    follow_rows = [
        {"id": new_id(), "follower_id": ids[a], "followee_id": ids[b]}
        for a, b in FOLLOWS
        if a in ids and b in ids
    ]
    for model, rows in ((Friendship, friend_rows), (Follow, follow_rows)):
        if rows:
            await session.execute(insert(model), rows)


@dataclass(frozen=True, slots=True)
class Edges:
    """The follow and friendship pairs that exist already, which generation must not repeat."""

    follows: set[tuple[int, int]]
    friendships: set[tuple[int, int]]


async def existing_edges(session: AsyncSession) -> Edges:
    """Every (follower, followee) and (user, friend) pair in the database."""
    follows = await session.execute(select(Follow.follower_id, Follow.followee_id))
    friends = await session.execute(select(Friendship.user_id, Friendship.friend_id))
    return Edges({(a, b) for a, b in follows.all()}, {(a, b) for a, b in friends.all()})


async def add_generated_graph(
    session: AsyncSession,
    *,
    rng: random.Random,
    users: list[int],
    existing: Edges,
    follows_per_user: int = 70,
    friends_per_user: int = 15,
) -> None:
    """The generated graph, drawn from `rng` in a fixed order (same seed, same edges)."""
    count = len(users)
    edge_id = new_id()
    follows: list[dict[str, Any]] = []
    friends: list[dict[str, Any]] = []
    seen_friend: set[tuple[int, int]] = set()
    for i, uid in enumerate(users):
        # mostly local neighbourhoods (shared friends make suggestions meaningful), some popular
        targets: set[int] = set()
        while len(targets) < min(follows_per_user, count - 1):
            j = (i + rng.randint(1, 500)) % count if rng.random() < 0.7 else _popular(rng, count)
            if j != i:
                targets.add(j)
        for j in targets:
            if (uid, users[j]) in existing.follows:
                continue
            edge_id += 1
            follows.append({"id": edge_id, "follower_id": uid, "followee_id": users[j]})
        for _ in range(friends_per_user):
            j = (i + rng.randint(1, 200)) % count
            pair = (min(i, j), max(i, j))
            if j == i or pair in seen_friend or (uid, users[j]) in existing.friendships:
                continue
            seen_friend.add(pair)
            for a, b in ((i, j), (j, i)):
                edge_id += 1
                friends.append({"id": edge_id, "user_id": users[a], "friend_id": users[b]})
        if len(follows) >= BATCH:
            await _flush(session, Follow, follows)
        if len(friends) >= BATCH:
            await _flush(session, Friendship, friends)
    await _flush(session, Follow, follows)
    await _flush(session, Friendship, friends)


async def _flush(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        await bulk_insert(session, model.__table__, rows)
        rows.clear()


def _popular(rng: random.Random, count: int) -> int:
    """A few members many follow: index skewed toward the start of the list."""
    return min(count - 1, int(rng.paretovariate(1.2)) - 1)
