"""SQL fragments of the social graph, for other domains' reads that must stay one statement.

Only this domain knows the columns of the graph tables (decision 0005). SQLAlchemy pieces
compose into ORM queries; text pieces compose into the feed's driver-level statements
(`feed/pages.py`: `?` is a value, `IN ?L` a list of ids).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CompoundSelect, ScalarSelect, Select, func, select

from townsquare.domains.accounts import sql as accounts_sql
from townsquare.domains.social.models import Block, Follow, Friendship, Mute


def hidden_ids_select(viewer_id: int) -> CompoundSelect[int]:
    """Users hidden from the viewer by a block in either direction, as a subquery."""
    return (
        select(Block.blocked_id)
        .where(Block.blocker_id == viewer_id)
        .union(select(Block.blocker_id).where(Block.blocked_id == viewer_id))
    )


def friend_ids_select(user_id: int) -> Select[int]:
    """The user's friends, as a subquery."""
    return select(Friendship.friend_id).where(Friendship.user_id == user_id)


def muted_ids_select(viewer_id: int) -> Select[int]:
    """Users the viewer muted, as a subquery."""
    return select(Mute.muted_id).where(Mute.muter_id == viewer_id)


def followers_count(user_id: Any) -> ScalarSelect[int]:
    """How many follow the user whose id is the column `user_id` (correlated)."""
    return select(func.count()).where(Follow.followee_id == user_id).scalar_subquery()


def following_count(user_id: Any) -> ScalarSelect[int]:
    """How many the user whose id is the column `user_id` follows (correlated)."""
    return select(func.count()).where(Follow.follower_id == user_id).scalar_subquery()


# text fragments for driver-level statements ------------------------------------------------------


def graph_sql(extra: str) -> str:
    """One user's graph as rows (kind, user id, `extra`), for a UNION ALL with the caller's rows.

    Kinds: `f` a friend, `g` a followee (both only in good standing: a banned friend leaves
    here, once, rather than by a join on every candidate), `x` muted, blocked or blocking.
    Five `?`, each the user's id; `extra` is a constant column (`CAST(NULL AS …)`).
    """
    standing = accounts_sql.not_banned_sql("u")
    return f"""
SELECT 'f', e.friend_id, {extra} FROM social_friendship e
  {accounts_sql.join_user_sql("e.friend_id", "u")} WHERE e.user_id = ? AND {standing}
UNION ALL
SELECT 'g', e.followee_id, {extra} FROM social_follow e
  {accounts_sql.join_user_sql("e.followee_id", "u")} WHERE e.follower_id = ? AND {standing}
UNION ALL SELECT 'x', muted_id, {extra} FROM social_mute WHERE muter_id = ?
UNION ALL SELECT 'x', blocked_id, {extra} FROM social_block WHERE blocker_id = ?
UNION ALL SELECT 'x', blocker_id, {extra} FROM social_block WHERE blocked_id = ?
"""


def is_friend_sql(other: str) -> str:
    """True when the user `?` is friends with the user in column `other` (one `?`)."""
    return (
        f"EXISTS (SELECT 1 FROM social_friendship f WHERE f.user_id = ? AND f.friend_id = {other})"
    )


def mutes_sql(other: str) -> str:
    """True when the user `?` muted the user in column `other` (one `?`)."""
    return f"EXISTS (SELECT 1 FROM social_mute x WHERE x.muter_id = ? AND x.muted_id = {other})"


def blocked_either_way_sql(other: str) -> str:
    """True when the user `?` and the user in column `other` blocked one another (two `?`)."""
    return (
        "EXISTS (SELECT 1 FROM social_block b"
        f" WHERE (b.blocker_id = ? AND b.blocked_id = {other})"
        f" OR (b.blocker_id = {other} AND b.blocked_id = ?))"
    )
