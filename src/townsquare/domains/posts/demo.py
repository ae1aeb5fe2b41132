"""Demo posts, comments and likes (called by townsquare.demo, after the social graph).

The dozen hand-made members get posts, comments and likes; a generated community about 20
posts per member, bulk-inserted in batches. Counters are recomputed from the rows afterwards
(`recount`), so the demo's numbers are exact.
"""

from __future__ import annotations

import random
from datetime import timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.bulk import bulk_insert
from townsquare.core.clock import utcnow
from townsquare.core.db import Database
from townsquare.core.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS, new_id
from townsquare.core.text import find_tags
from townsquare.domains.posts.models import Comment, Post, PostLike, PostTag

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


async def has_posts(session: AsyncSession) -> bool:
    """True once anyone posted: the hand-made demo content is added to an empty town only."""
    return bool((await session.execute(select(func.count()).select_from(Post))).scalar_one())


async def add_member_content(session: AsyncSession, *, ids: dict[str, int]) -> None:
    """Posts, comments and likes among the demo members present in `ids`."""
    now = utcnow()
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
    for model, rows in ((Post, posts), (PostTag, tags), (Comment, comments), (PostLike, likes)):
        if rows:
            await session.execute(insert(model), rows)


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


async def add_generated_posts(
    session: AsyncSession,
    *,
    rng: random.Random,
    users: list[int],
    posts_per_user: int = 20,
    days: int = 30,
) -> None:
    """Bulk posts for a generated community, drawn from `rng` in a fixed order (same seed, same
    posts).

    Generated posts carry synthetic like counts (a long-tailed distribution) without like rows,
    so the ranking has engagement to weigh without millions of rows to insert.
    """
    now = utcnow()
    span_ms = days * 86_400_000
    serial = 0
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
            await _flush(session, posts, tags)
    await _flush(session, posts, tags)


async def _flush(
    session: AsyncSession, posts: list[dict[str, Any]], tags: list[dict[str, Any]]
) -> None:
    """Insert in key order (appends, not page splits) and empty the batches."""
    for model, rows, key in ((Post, posts, "id"), (PostTag, tags, "post_id")):
        if rows:
            rows.sort(key=itemgetter(key))
            await bulk_insert(session, model.__table__, rows)
            rows.clear()


async def vacuum(db: Database) -> None:
    """PostgreSQL: set the visibility map after a bulk load, so index-only scans skip the table."""
    if not db.is_sqlite:
        async with db.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM (ANALYZE) post_post"))


async def recount(session: AsyncSession) -> None:
    """Set likes and comments counts from the rows, the invariant the actions keep."""
    liked = select(func.count()).where(PostLike.post_id == Post.id).scalar_subquery()
    commented = select(func.count()).where(Comment.post_id == Post.id).scalar_subquery()
    await session.execute(update(Post).values(likes_count=liked, comments_count=commented))
