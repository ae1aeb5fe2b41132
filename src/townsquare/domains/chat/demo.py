"""Demo conversations for the named demo members, made through the chat actions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.db import Database
from townsquare.domains.accounts import queries as account_queries
from townsquare.domains.chat import actions
from townsquare.domains.chat.models import ChatRoom
from townsquare.domains.chat.schemas import CreateRoom, RoomType, SendMessage
from townsquare.infra.media import LocalMediaStore

ROOMS: tuple[
    tuple[RoomType, str | None, str, tuple[str, ...], tuple[tuple[str, str], ...]], ...
] = (
    (
        "direct",
        None,
        "ana_lima",
        ("ben_carter",),
        (
            ("ana_lima", "Are you still up for the 10k on Sunday?"),
            ("ben_carter", "Yes! Meet at the bridge at 8?"),
            ("ana_lima", "Perfect, see you there 🏃"),
        ),
    ),
    (
        "group",
        "Weekend climbers",
        "ben_carter",
        ("ana_lima", "chen_wei", "dara_nolan"),
        (
            ("ben_carter", "Crag or gym this Saturday?"),
            ("dara_nolan", "Crag if it stays dry, the forecast looks good"),
            ("chen_wei", "I'll bring dumplings for after 🥟"),
            ("ben_carter", "@chen_wei legend"),
        ),
    ),
    (
        "team",
        "Moderators",
        "admin",
        ("mod_maya",),
        (
            ("admin", "New report queue is live, shout if anything looks off."),
            ("mod_maya", "Looks good. I'll take the morning shift."),
        ),
    ),
    (
        "public",
        "Town square",
        "admin",
        (),
        (("admin", "Welcome to townsquare! Say hi 👋"),),
    ),
)
PUBLIC_JOINERS = ("eli_cohen", "fatima_zahra", "hana_sato", "ivan_petrov", "julia_rossi")
PUBLIC_HELLOS = (("hana_sato", "Hi everyone! 🌱"), ("ivan_petrov", "Anyone for a game of chess?"))


async def add_member_rooms(db: Database, media: LocalMediaStore) -> None:
    """A direct chat, a group, a team and a public room; nothing if chat has rooms already."""
    async with db.transaction() as session:
        if await session.scalar(select(func.count()).select_from(ChatRoom)):
            return
        ids: dict[str, int] = {}
        for name in {"admin", "mod_maya", "ana_lima", "ben_carter", "chen_wei", "dara_nolan"} | set(
            PUBLIC_JOINERS
        ):
            user = await account_queries.get_user_by_username(session, username=name)
            if user is None:
                return  # a partial demo (fewer members): no conversations
            ids[name] = user.id
        public_id = 0
        for type_, title, owner, members, lines in ROOMS:
            room, _ = await actions.check_create_room(
                session,
                creator_id=ids[owner],
                body=CreateRoom(type=type_, name=title, member_ids=[ids[m] for m in members]),
                media=media,
            )
            public_id = room.id if type_ == "public" else public_id
            for author, text in lines:
                await _say(session, ids[author], room.id, text, media)
        for name in PUBLIC_JOINERS:
            await actions.check_join(session, user_id=ids[name], room_id=public_id, media=media)
        for author, text in PUBLIC_HELLOS:
            await _say(session, ids[author], public_id, text, media)


async def _say(
    session: AsyncSession, user_id: int, room_id: int, text: str, media: LocalMediaStore
) -> None:
    await actions.check_send_message(
        session,
        user_id=user_id,
        room_id=room_id,
        body=SendMessage(message=text),
        media=media,
        notify_delay=None,
    )
