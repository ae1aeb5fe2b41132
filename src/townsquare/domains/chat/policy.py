"""Who may do what in a room, and who may start a conversation with whom."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.core.errors import Forbidden
from townsquare.domains.accounts import queries as account_queries
from townsquare.domains.chat.models import ChatMember, ChatRoom
from townsquare.domains.social import queries as social_queries

NAMED_TYPES = frozenset({"group", "team", "public"})


def is_admin(member: ChatMember | None) -> bool:
    return member is not None and member.role == "admin"


def can_post(room: ChatRoom, member: ChatMember) -> bool:
    """Everyone, or only admins when the room says so."""
    return room.post_policy == "everyone" or is_admin(member)


def can_add(room: ChatRoom, member: ChatMember) -> bool:
    """Direct rooms never grow; otherwise admins, or everyone when the room allows it."""
    if room.type == "direct":
        return False
    return room.add_policy == "everyone" or is_admin(member)


def sees_from(room: ChatRoom, member: ChatMember) -> int:
    """The first sequence a member may read: all of it unless the room hides earlier history."""
    return member.joined_seq + 1 if room.hide_history else 1


async def check_may_message(session: AsyncSession, *, actor_id: int, target_id: int) -> None:
    """Refuse when blocked either way or when the target's allow-messages setting says no.

    The same answer for both so a blocked user cannot tell a block from a setting.
    """
    if actor_id == target_id:
        return
    friends, blocked = await social_queries.friendship_and_block(session, a=actor_id, b=target_id)
    if blocked:
        raise Forbidden("This person does not take messages from you", code="cannot_message")
    allow = (await account_queries.get_settings(session, user_id=target_id)).allow_messages
    if allow == "nobody" or (allow == "friends" and not friends):
        raise Forbidden("This person does not take messages from you", code="cannot_message")
