"""Demo communities: a dozen hand-made members for trying townsquare, or any number for benchmarks.

Each domain adds its own demo data here as it arrives (posts, chats, ...), after the users.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.config import Settings
from townsquare.core.bulk import bulk_insert
from townsquare.core.clock import utcnow
from townsquare.core.db import Database
from townsquare.core.ids import new_id
from townsquare.core.security import hash_password
from townsquare.domains.accounts import actions as account_actions
from townsquare.domains.accounts import queries as account_queries
from townsquare.domains.accounts.models import LoginSession, User, UserSettings
from townsquare.domains.accounts.policy import password_problems


@dataclass(frozen=True)
class DemoMember:
    username: str
    display_name: str
    location: str
    bio: str
    role: str = "user"
    visibility: str = "public"


MEMBERS = (
    DemoMember("admin", "Town Admin", "Lisbon", "I keep the lights on.", role="admin"),
    DemoMember("mod_maya", "Maya Okafor", "Lagos", "Moderator. Be kind.", role="moderator"),
    DemoMember("ana_lima", "Ana Lima", "São Paulo", "Runner, reader, coffee."),
    DemoMember("ben_carter", "Ben Carter", "Leeds", "Weekend climber."),
    DemoMember("chen_wei", "Chen Wei", "Taipei", "Cooking my way through every cuisine."),
    DemoMember("dara_nolan", "Dara Nolan", "Galway", "Photos of the sea.", visibility="friends"),
    DemoMember("eli_cohen", "Eli Cohen", "Haifa", "Learning the cello at 40."),
    DemoMember("fatima_zahra", "Fatima Zahra", "Rabat", "Marathon in training."),
    DemoMember("gus_berg", "Gus Berg", "Malmö", "Private person.", visibility="private"),
    DemoMember("hana_sato", "Hana Sato", "Osaka", "Plants, pottery, puzzles."),
    DemoMember("ivan_petrov", "Ivan Petrov", "Sofia", "Chess and chili."),
    DemoMember("julia_rossi", "Julia Rossi", "Bologna", "Daily sketching challenge."),
)
FIRST = ("Ava", "Leo", "Mia", "Noah", "Zoe", "Omar", "Ines", "Kai", "Lena", "Raj", "Sara", "Tom")
LAST = ("Silva", "Kim", "Novak", "Diaz", "Berg", "Khan", "Mori", "Ng", "Ortiz", "Quinn", "Roy")
CITIES = ("Lisbon", "Berlin", "Nairobi", "Lima", "Seoul", "Austin", "Oslo", "Pune", "Quito")
BATCH = 50_000
SQLITE_LOAD_CACHE_KIB = 1_048_576  # page cache while loading: random-key inserts stay in memory


def demo_password(username: str, seed: int) -> str:
    """A readable password that passes the policy, different per member and per seed."""
    return f"{username.replace('_', '-')}-town-{seed:04d}"


async def generate_demo(
    settings: Settings, *, users: int, if_empty: bool, seed: int, console: Console
) -> None:
    """Fill the database with a demo community and print how to sign in."""
    db = Database(settings.resolved_database_url)
    try:
        async with db.read() as session:
            existing = (await session.execute(select(func.count()).select_from(User))).scalar_one()
        if if_empty and existing:
            console.print(f"[dim]Database already has {existing} users; no demo data added.[/dim]")
            return
        rng = random.Random(seed)
        made = await _add_members(db, seed=seed, count=min(users, len(MEMBERS)))
        if users > len(MEMBERS):
            await _add_generated(
                db, rng=rng, count=users - len(MEMBERS), seed=seed, console=console
            )
        await _add_social_content(
            db, rng=rng, generated=users > len(MEMBERS), console=console, settings=settings
        )
        _print_members(console, made, extra=max(0, users - len(MEMBERS)), seed=seed)
    finally:
        await db.dispose()


async def _add_social_content(
    db: Database, *, rng: random.Random, generated: bool, console: Console, settings: Settings
) -> None:
    """Friendships, follows, posts, comments, likes and chats, each built by its own domain."""
    await _add_member_content(db)
    from townsquare.domains.chat import demo as chat_demo
    from townsquare.infra.media import LocalMediaStore

    await chat_demo.add_member_rooms(db, LocalMediaStore(settings.media_dir))
    if generated:
        with console.status("Generating friendships, follows and posts"):
            await _add_generated_content(db, rng=rng)


async def _add_member_content(db: Database) -> None:
    """The hand-made members' graph, posts, comments and likes, into an empty town only."""
    from townsquare.domains.accounts import demo as accounts_demo
    from townsquare.domains.posts import demo as posts_demo
    from townsquare.domains.social import demo as social_demo

    async with db.read() as session:
        ids = await accounts_demo.ids_by_username(session)
        existing = await posts_demo.has_posts(session)
    if existing or "ana_lima" not in ids:
        return
    async with db.transaction() as session:
        await social_demo.add_member_graph(session, ids=ids)
        await posts_demo.add_member_content(session, ids=ids)
    await _recount(db, likes=True)


async def _add_generated_content(db: Database, *, rng: random.Random) -> None:
    """A generated community's graph (about 100 edges a member), then its posts (about 20)."""
    from townsquare.domains.accounts import demo as accounts_demo
    from townsquare.domains.posts import demo as posts_demo
    from townsquare.domains.social import demo as social_demo

    async with db.read() as session:
        users = await accounts_demo.user_ids(session)
        existing = await social_demo.existing_edges(session)
    if len(users) < 3:
        return
    async with bulk_load(db) as session:  # the graph draws from `rng` first, then the posts
        await social_demo.add_generated_graph(session, rng=rng, users=users, existing=existing)
        await posts_demo.add_generated_posts(session, rng=rng, users=users)
    await _recount(db, likes=False)
    await posts_demo.vacuum(db)


async def _recount(db: Database, *, likes: bool) -> None:
    """Set every counter from the rows, so demo data keeps the invariants actions keep."""
    from townsquare.domains.accounts import demo as accounts_demo
    from townsquare.domains.posts import demo as posts_demo
    from townsquare.domains.posts import sql as posts_sql
    from townsquare.domains.social import sql as social_sql

    async with db.transaction() as session:
        await accounts_demo.set_counters(
            session,
            {
                "followers_count": social_sql.followers_count,
                "following_count": social_sql.following_count,
                "posts_count": posts_sql.posts_count,
            },
        )
        if likes:
            await posts_demo.recount(session)
        await session.execute(text("ANALYZE"))  # fresh statistics for the planner


async def _add_members(db: Database, *, seed: int, count: int) -> list[tuple[DemoMember, str]]:
    made: list[tuple[DemoMember, str]] = []
    async with db.transaction() as session:
        for member in MEMBERS[:count]:
            if await account_queries.get_user_by_username(session, username=member.username):
                continue
            password = demo_password(member.username, seed)
            user = account_actions.do_create_user(
                session,
                username=member.username,
                email=f"{member.username}@demo.townsquare.local",
                password=password,
                role=member.role,
                display_name=member.display_name,
                bio=member.bio,
                location=member.location,
            )
            await session.flush()
            settings = await session.get(UserSettings, user.id)
            assert settings is not None
            settings.profile_visibility = member.visibility
            made.append((member, password))
    return made


async def _add_generated(
    db: Database, *, rng: random.Random, count: int, seed: int, console: Console
) -> None:
    """Bulk-insert generated members sharing one password hash (argon2 per row would take hours)."""
    shared_hash = hash_password(demo_password("member", seed))
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("Generating members", total=count)
        done = 0
        async with bulk_load(db) as session:
            while done < count:
                size = min(BATCH, count - done)
                users, settings = [], []
                for i in range(done, done + size):
                    uid = new_id()
                    name = f"member{i:06d}"
                    users.append(
                        {
                            "id": uid,
                            "username": name,
                            "username_key": name,
                            "email": f"{name}@demo.townsquare.local",
                            "email_key": f"{name}@demo.townsquare.local",
                            "password_hash": shared_hash,
                            "display_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                            "location": rng.choice(CITIES),
                        }
                    )
                    settings.append({"user_id": uid})
                await bulk_insert(session, User.__table__, users)
                await bulk_insert(session, UserSettings.__table__, settings)
                done += size
                progress.update(task, advance=size)


@asynccontextmanager
async def bulk_load(db: Database) -> AsyncIterator[AsyncSession]:
    """One transaction for a bulk load; SQLite without fsyncs (data made again from the seed)."""
    # Only for a Database made for the load and disposed after it: the pragmas stay on its
    # pooled connections.
    async with db.transaction() as session:
        if db.is_sqlite:  # before the first write: SQLite refuses these inside a transaction
            await session.execute(text("PRAGMA synchronous=OFF"))
            await session.execute(text(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KIB}"))
        yield session


def _print_members(
    console: Console, made: list[tuple[DemoMember, str]], *, extra: int, seed: int
) -> None:
    if not made and not extra:
        console.print("[dim]The demo members exist already.[/dim]")
        return
    table = Table(title="Demo community: sign in with these")
    for column in ("username", "password", "role", "profile"):
        table.add_column(column)
    for member, password in made:
        table.add_row(member.username, password, member.role, member.visibility)
    console.print(table)
    if extra:
        console.print(
            f"{extra} generated members member000000… share the password "
            f"[bold]{demo_password('member', seed)}[/bold]"
        )


async def create_admin(settings: Settings, *, username: str, email: str, password: str) -> bool:
    """Create an admin, or promote an existing account; True when one was created."""
    problems = password_problems(password, username=username)
    if problems:
        raise ValueError("Password " + "; ".join(problems))
    db = Database(settings.resolved_database_url)
    try:
        async with db.transaction() as session:
            user = await account_queries.get_user_by_username(session, username=username)
            if user is not None:
                user.role = "admin"
                account_actions.do_audit(
                    session,
                    action="role_change",
                    actor_id=None,
                    target_user_id=user.id,
                    new="admin",
                )
                return False
            user = account_actions.do_create_user(
                session, username=username, email=email, password=password, role="admin"
            )
            await session.flush()
            account_actions.do_audit(
                session, action="register", actor_id=None, target_user_id=user.id, role="admin"
            )
            return True
    finally:
        await db.dispose()


async def insert_signed_in_members(
    session: AsyncSession, accounts: list[tuple[int, int]], *, prefix: str
) -> None:
    """Bulk-insert members `prefix0…` with one live session each, for benchmarks to mint tokens.

    `accounts` is (user_id, session_id) per member; no password works (the hash is "!").
    """
    expires = utcnow().replace(year=utcnow().year + 1)
    await session.execute(
        insert(User),
        [
            {
                "id": uid,
                "username": f"{prefix}{i}",
                "username_key": f"{prefix}{i}",
                "email": f"{prefix}{i}@example.org",
                "email_key": f"{prefix}{i}@example.org",
                "password_hash": "!",
            }
            for i, (uid, _) in enumerate(accounts)
        ],
    )
    await session.execute(insert(UserSettings), [{"user_id": uid} for uid, _ in accounts])
    await session.execute(
        insert(LoginSession),
        [{"id": sid, "user_id": uid, "expires_at": expires} for uid, sid in accounts],
    )
