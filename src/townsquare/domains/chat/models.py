"""Chat tables: rooms, their members, messages with edits and reactions, per-user chat settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.clock import utcnow
from townsquare.core.db import Base
from townsquare.core.ids import new_id

_USER = "account_user.id"
_ROOM = "chat_room.id"
_MESSAGE = "chat_message.id"


class ChatRoom(Base):
    """A conversation; `last_seq` hands out the per-room message sequence."""

    __tablename__ = "chat_room"

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    direct_key: Mapped[str | None] = mapped_column(String(41), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey(_USER, ondelete="SET NULL"))
    post_policy: Mapped[str] = mapped_column(String(8), default="everyone")
    add_policy: Mapped[str] = mapped_column(String(8), default="admins")
    slow_mode_seconds: Mapped[int] = mapped_column(default=0)
    hide_history: Mapped[bool] = mapped_column(default=False)
    member_count: Mapped[int] = mapped_column(default=0)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_message_id: Mapped[int | None] = mapped_column()
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatMember(Base):
    """A user in a room; `joined_seq` bounds what they see when the room hides history."""

    __tablename__ = "chat_member"
    __table_args__ = (Index("ix_chat_member_user_id_room_id", "user_id", "room_id"),)

    room_id: Mapped[int] = mapped_column(ForeignKey(_ROOM, ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8), default="member")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    joined_seq: Mapped[int] = mapped_column(default=0)
    last_read_seq: Mapped[int] = mapped_column(default=0)
    # the furthest a device of this member has acknowledged receiving (never behind last_read)
    last_delivered_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    last_sent_at: Mapped[datetime | None] = mapped_column()


class ChatMessage(Base):
    """One message; deleted ones keep their row (and sequence) as a tombstone without text."""

    __tablename__ = "chat_message"
    __table_args__ = (
        UniqueConstraint("room_id", "seq", name="uq_chat_message_room_id_seq"),
        UniqueConstraint("sender_id", "client_id", name="uq_chat_message_sender_id_client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    room_id: Mapped[int] = mapped_column(ForeignKey(_ROOM, ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    sender_id: Mapped[int | None] = mapped_column(ForeignKey(_USER, ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(8), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey(_MESSAGE, ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()


class ChatMessageEdit(Base):
    """The text a message had before one edit, kept for its history."""

    __tablename__ = "chat_message_edit"

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    message_id: Mapped[int] = mapped_column(ForeignKey(_MESSAGE, ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatReaction(Base):
    """One user's emoji on one message; the key makes toggling idempotent."""

    __tablename__ = "chat_reaction"

    message_id: Mapped[int] = mapped_column(
        ForeignKey(_MESSAGE, ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    emoji: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatUserSettings(Base):
    """Per-user chat switches; a missing row means the defaults."""

    __tablename__ = "chat_user_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    read_receipts: Mapped[bool] = mapped_column(default=True)
