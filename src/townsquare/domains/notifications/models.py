"""Notification tables: notifications, per-channel preferences, quiet hours, push subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.clock import utcnow
from townsquare.core.db import Base
from townsquare.core.ids import new_id

_USER = "account_user.id"


class Notification(Base):
    """One entry of a user's notification list; a group (likes on one post) is one row."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_recipient_id_updated_at_id", "recipient_id", "updated_at", "id"),
        Index("ix_notification_recipient_id_group_key", "recipient_id", "group_key"),
        Index("ix_notification_recipient_id_read_at", "recipient_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    recipient_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(String(1000), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey(_USER, ondelete="SET NULL"))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column()
    group_key: Mapped[str | None] = mapped_column(String(120))
    group_count: Mapped[int] = mapped_column(default=1)
    # newest actors first, at most a few: enough for "Ana, Ben and 3 others"
    sample_actors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    in_app: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    push_sent_at: Mapped[datetime | None] = mapped_column()
    email_sent_at: Mapped[datetime | None] = mapped_column()


class NotificationPreference(Base):
    """Which channels a user wants for one category; absent rows mean the defaults."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    in_app: Mapped[bool] = mapped_column(default=True)
    push: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=False)


class NotificationSchedule(Base):
    """Quiet hours (minutes after local midnight) and when the last digest went out."""

    __tablename__ = "notification_schedule"

    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    quiet_start_minute: Mapped[int | None] = mapped_column()
    quiet_end_minute: Mapped[int | None] = mapped_column()
    last_digest_at: Mapped[datetime | None] = mapped_column()


class PushSubscription(Base):
    """A browser's Web Push subscription (RFC 8030); removed when the push service says 404/410."""

    __tablename__ = "notification_push_subscription"
    __table_args__ = (UniqueConstraint("endpoint_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(2048))
    endpoint_hash: Mapped[str] = mapped_column(String(64))
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column()
