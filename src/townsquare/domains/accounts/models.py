"""Account tables: users, their settings, login sessions, refresh tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.clock import utcnow
from townsquare.core.db import Base
from townsquare.core.ids import new_id


class User(Base):
    """A member of the community; counters are kept by the domains that own them."""

    __tablename__ = "account_user"

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(30))
    username_key: Mapped[str] = mapped_column(String(30), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")
    status: Mapped[str] = mapped_column(String(16), default="active")
    display_name: Mapped[str | None] = mapped_column(String(60))
    bio: Mapped[str | None] = mapped_column(String(500))
    location: Mapped[str | None] = mapped_column(String(100))
    avatar_key: Mapped[str | None] = mapped_column(String(255))
    avatar_thumb_key: Mapped[str | None] = mapped_column(String(255))
    social_links: Mapped[dict[str, Any]] = mapped_column(default=dict)
    followers_count: Mapped[int] = mapped_column(default=0)
    following_count: Mapped[int] = mapped_column(default=0)
    posts_count: Mapped[int] = mapped_column(default=0)
    achievements_count: Mapped[int] = mapped_column(default=0)
    level: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column()


class UserSettings(Base):
    """Privacy and notification settings, one row per user."""

    __tablename__ = "account_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("account_user.id", ondelete="CASCADE"), primary_key=True
    )
    profile_visibility: Mapped[str] = mapped_column(String(16), default="public")
    show_email: Mapped[bool] = mapped_column(default=False)
    show_location: Mapped[bool] = mapped_column(default=True)
    show_activity: Mapped[bool] = mapped_column(default=True)
    allow_friend_requests: Mapped[bool] = mapped_column(default=True)
    allow_messages: Mapped[str] = mapped_column(String(16), default="everyone")
    show_online_status: Mapped[bool] = mapped_column(default=True)
    notification_categories: Mapped[dict[str, Any]] = mapped_column(default=dict)
    digest: Mapped[str] = mapped_column(String(16), default="weekly")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class LoginSession(Base):
    """One signed-in device; revoking it ends its access and refresh tokens at once."""

    __tablename__ = "account_session"
    __table_args__ = (Index("ix_account_session_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("account_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    user_agent: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """A refresh token of a session (its family), stored as a hash; each is used once."""

    __tablename__ = "account_refresh_token"

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("account_session.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()


class AuditEvent(Base):
    """A security-relevant action, kept for admins to review."""

    __tablename__ = "account_audit_event"
    __table_args__ = (Index("ix_account_audit_event_target_user_id_id", "target_user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    action: Mapped[str] = mapped_column(String(40), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account_user.id", ondelete="SET NULL"))
    target_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("account_user.id", ondelete="SET NULL")
    )
    ip_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
