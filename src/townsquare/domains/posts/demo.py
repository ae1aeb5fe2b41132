"""Demo content for the social graph, posts and interactions (called by townsquare.demo).

The dozen hand-made members get friendships, follows, posts, comments and likes; a generated
community gets about 20 posts and 100 graph edges per member, bulk-inserted in batches, with
every counter recomputed from the rows at the end so the demo's numbers are exact.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update

from townsquare.core.clock import utcnow
from townsquare.core.db import Database
from townsquare.core.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS, new_id
from townsquare.core.text import find_tags
from townsquare.demo import bulk_insert, bulk_load
from townsquare.domains.accounts.models import User
from townsquare.domains.posts.models import Comment, Post, PostLike, PostTag
from townsquare.domains.social.models import Follow, Friendship

BATCH = 100_000
TYPES = ("general", "general", "general", "progress", "meal", "achievement", "challenge")
WORDS = [
    "morning",
    "run",
    "coffee",
    "garden",
    "bread",
    "trail",
    "sunrise",
    "bike",
    "swim",
    "climb",
    "sketch",
    "cello",
    "chess",
    "chili",
    "pottery",
    "plants",
    "puzzle",
    "marathon",
    "ramen",
    "soup",
    "salad",
    "stretch",
    "yoga",
    "walk",
    "harbour",
    "market",
    "rain",
    "library",
    "notebook",
    "paint",
    "kiln",
    "fern",
    "tomato",
    "basil",
    "espresso",
    "sourdough",
    "tempo",
    "interval",
    "hill",
]
TAGS = ("running", "cooking", "art", "music", "fitness", "reading", "garden", "travel", "food")

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
POSTS = (
    ("ana_lima", "progress", "public", "10 km before breakfast #running #mornings"),
    ("ana_lima", "general", "friends", "Finished the book club pick, who is next? #reading"),
    ("ben_carter", "achievement", "public", "Sent my first 6b at the gym! #climbing"),
    ("chen_wei", "meal", "public", "Hand-pulled noodles, attempt three #cooking"),
    ("dara_nolan", "general", "friends", "Storm over the bay this morning #photography"),
    ("eli_cohen", "progress", "public", "Day 120 with the cello: a whole Bach minuet #music"),
    ("fatima_zahra", "challenge", "public", "Who joins a 30-day stretching challenge? #fitness"),
    ("hana_sato", "general", "public", "New glaze test came out of the kiln #pottery"),
    ("ivan_petrov", "meal", "public", "Chili night, ghost pepper edition @chen_wei #cooking"),
    ("julia_rossi", "challenge", "public", "Day 45 of daily sketching #art #sketching"),
    ("gus_berg", "general", "private", "Notes to self."),
)
COMMENTS = (
    (1, "ben_carter", "Impressive pace!"),
    (1, "chen_wei", "Breakfast after that must taste great."),
    (3, "ana_lima", "Congrats, Ben!"),
    (4, "ivan_petrov", "Recipe please"),
    (9, "chen_wei", "Challenge accepted"),
    (10, "ana_lima", "Your lines get better every week"),
)
LIKES = (
    (1, "ben_carter"),
    (1, "chen_wei"),
    (1, "julia_rossi"),
    (3, "ana_lima"),
    (3, "chen_wei"),
    (4, "ivan_petrov"),
    (6, "dara_nolan"),
    (10, "ana_lima"),
    (10, "ben_carter"),
    (10, "eli_cohen"),
)


def post_id_at(ms_ago: int, serial: int) -> int:
    """A post id for a moment in the past (ids sort by time), unique by its serial number."""
    now_ms = int(utcnow().timestamp() * 1000) - EPOCH_MS
    return ((now_ms - ms_ago) << (NODE_BITS + SEQUENCE_BITS)) | (serial & 0x3FFFFF)


async def add_member_content(db: Database) -> None:
    """Friendships, follows, posts, comments and likes among the dozen demo members."""
    async with db.read() as session:
        ids = dict((await session.execute(select(User.username, User.id))).all())
        existing = (await session.execute(select(func.count()).select_from(Post))).scalar_one()
    if existing or "ana_lima" not in ids:
        return
    now = utcnow()
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
    posts, tags = [], []
    for serial, (author, kind, privacy, body) in enumerate(POSTS):
        if author not in ids:
            continue
        pid = post_id_at((len(POSTS) - serial) * 3_600_000, serial)
        posts.append(_post_row(pid, ids[author], body, kind, privacy, now, serial))
        tags += [{"post_id": pid, "tag": t} for t in find_tags(body, [])]
    by_number = {n + 1: row["id"] for n, row in enumerate(posts)}
    comments = [
        {"id": new_id(), "post_id": by_number[n], "author_id": ids[who], "text": body}
        for n, who, body in COMMENTS
        if n in by_number and who in ids
    ]
    likes = [
        {"post_id": by_number[n], "user_id": ids[who]}
        for n, who in LIKES
        if n in by_number and who in ids
    ]
    async with db.transaction() as session:
        for model, rows in (
            (Friendship, friend_rows),
            (Follow, follow_rows),
            (Post, posts),
            (PostTag, tags),
            (Comment, comments),
            (PostLike, likes),
        ):
            if rows:
                await session.execute(insert(model), rows)
    await recount(db)


def _post_row(
    pid: int, author: int, body: str, kind: str, privacy: str, now: Any, serial: int
) -> dict[str, Any]:
    ms = (pid >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_MS
    created = now + timedelta(milliseconds=ms - now.timestamp() * 1000)
    return {
        "id": pid,
        "author_id": author,
        "text": body,
        "type": kind,
        "privacy": privacy,
        "meta": {},
        "tags": find_tags(body, []),
        "mentions": [],
        "created_at": created,
        "updated_at": created,
    }


async def add_generated_content(
    db: Database,
    *,
    rng: random.Random,
    posts_per_user: int = 20,
    follows_per_user: int = 70,
    friends_per_user: int = 15,
    days: int = 30,
) -> None:
    """Bulk graph and posts for a generated community (about 100 edges, 20 posts per member).

    Generated posts carry synthetic like counts (a long-tailed distribution) without like rows,
    so the ranking has engagement to weigh without millions of rows to insert.
    """
    async with db.read() as session:
        users = list((await session.execute(select(User.id).order_by(User.id))).scalars())
        follow_rows = await session.execute(select(Follow.follower_id, Follow.followee_id))
        had_follow = {(a, b) for a, b in follow_rows.all()}
        friend_rows = await session.execute(select(Friendship.user_id, Friendship.friend_id))
        had_friend = {(a, b) for a, b in friend_rows.all()}
    if len(users) < 3:
        return
    now = utcnow()
    span_ms = days * 86_400_000
    edge_id = new_id()

    async def flush(model: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            if model is Post or model is PostTag:  # in key order: appends, not page splits
                rows.sort(key=lambda row: row["post_id" if model is PostTag else "id"])
            await bulk_insert(session, model.__table__, rows)
            rows.clear()

    async with bulk_load(db) as session:
        await _generate(
            flush,
            rng=rng,
            users=users,
            had_follow=had_follow,
            had_friend=had_friend,
            posts_per_user=posts_per_user,
            follows_per_user=follows_per_user,
            friends_per_user=friends_per_user,
            span_ms=span_ms,
            now=now,
            edge_id=edge_id,
        )
    await recount(db, likes=False)
    if not db.is_sqlite:  # set the visibility map, so index-only scans skip the table
        async with db.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM (ANALYZE) post_post"))


async def _generate(
    flush: Any,
    *,
    rng: random.Random,
    users: list[int],
    had_follow: set[tuple[int, int]],
    had_friend: set[tuple[int, int]],
    posts_per_user: int,
    follows_per_user: int,
    friends_per_user: int,
    span_ms: int,
    now: Any,
    edge_id: int,
) -> None:
    """The generated graph and posts, drawn from `rng` in a fixed order (same seed, same data)."""
    count = len(users)
    serial = 0
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
            if (uid, users[j]) in had_follow:
                continue
            edge_id += 1
            follows.append({"id": edge_id, "follower_id": uid, "followee_id": users[j]})
        for _ in range(friends_per_user):
            j = (i + rng.randint(1, 200)) % count
            pair = (min(i, j), max(i, j))
            if j == i or pair in seen_friend or (uid, users[j]) in had_friend:
                continue
            seen_friend.add(pair)
            for a, b in ((i, j), (j, i)):
                edge_id += 1
                friends.append({"id": edge_id, "user_id": users[a], "friend_id": users[b]})
        if len(follows) >= BATCH:
            await flush(Follow, follows)
        if len(friends) >= BATCH:
            await flush(Friendship, friends)
    await flush(Follow, follows)
    await flush(Friendship, friends)
    seen_friend.clear()

    posts: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for uid in users:
        for _ in range(posts_per_user):
            serial += 1
            pid = post_id_at(rng.randint(0, span_ms), serial)
            words = rng.sample(WORDS, 8)
            tag = rng.choice(TAGS)
            body = " ".join(words) + f" #{tag}"
            privacy = "public" if rng.random() < 0.85 else rng.choice(("friends", "private"))
            row = _post_row(pid, uid, body, rng.choice(TYPES), privacy, now, serial)
            row["likes_count"] = int(rng.paretovariate(1.5)) - 1
            row["comments_count"] = 0
            posts.append(row)
            tags.append({"post_id": pid, "tag": tag})
        if len(posts) >= BATCH:
            await flush(Post, posts)
            await flush(PostTag, tags)
    await flush(Post, posts)
    await flush(PostTag, tags)


def _popular(rng: random.Random, count: int) -> int:
    """A few members many follow: index skewed toward the start of the list."""
    return min(count - 1, int(rng.paretovariate(1.2)) - 1)


async def recount(db: Database, *, likes: bool = True) -> None:
    """Set every counter from the rows, so demo data keeps the invariants actions keep."""
    follower = select(func.count()).where(Follow.followee_id == User.id).scalar_subquery()
    following = select(func.count()).where(Follow.follower_id == User.id).scalar_subquery()
    authored = select(func.count()).where(Post.author_id == User.id).scalar_subquery()
    async with db.transaction() as session:
        await session.execute(
            update(User).values(
                followers_count=follower, following_count=following, posts_count=authored
            )
        )
        if likes:
            liked = select(func.count()).where(PostLike.post_id == Post.id).scalar_subquery()
            commented = select(func.count()).where(Comment.post_id == Post.id).scalar_subquery()
            await session.execute(update(Post).values(likes_count=liked, comments_count=commented))
        await session.execute(text("ANALYZE"))  # fresh statistics for the planner
