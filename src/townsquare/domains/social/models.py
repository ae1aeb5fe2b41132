"""Social graph tables; every edge has a time-sortable id so lists page by keyset."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.clock import utcnow
from townsquare.core.db import Base
from townsquare.core.ids import new_id

_USER = "account_user.id"


class FriendRequest(Base):
    """A pending request; one per pair (low, high) so crossed requests cannot both exist."""

    __tablename__ = "social_friend_request"
    __table_args__ = (
        UniqueConstraint("user_low", "user_high"),
        Index("ix_social_friend_request_receiver_id_id", "receiver_id", "id"),
        Index("ix_social_friend_request_sender_id_id", "sender_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    sender_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    receiver_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    user_low: Mapped[int] = mapped_column()
    user_high: Mapped[int] = mapped_column()
    message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Friendship(Base):
    """One row per direction, so "friends of X" is a single index range scan."""

    __tablename__ = "social_friendship"
    __table_args__ = (
        UniqueConstraint("user_id", "friend_id"),
        Index("ix_social_friendship_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    friend_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Follow(Base):
    """A one-way follow; the follower sees the followee's posts in their feed."""

    __tablename__ = "social_follow"
    __table_args__ = (
        UniqueConstraint("follower_id", "followee_id"),
        Index("ix_social_follow_followee_id_id", "followee_id", "id"),
        Index("ix_social_follow_follower_id_id", "follower_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    follower_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    followee_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Block(Base):
    """The blocker and the blocked no longer see each other anywhere."""

    __tablename__ = "social_block"
    __table_args__ = (
        UniqueConstraint("blocker_id", "blocked_id"),
        Index("ix_social_block_blocker_id_id", "blocker_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    blocker_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    blocked_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mute(Base):
    """The muter stops seeing the muted in feed and notifications; the muted is not told."""

    __tablename__ = "social_mute"
    __table_args__ = (
        UniqueConstraint("muter_id", "muted_id"),
        Index("ix_social_mute_muter_id_id", "muter_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    muter_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    muted_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
