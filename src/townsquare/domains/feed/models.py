"""Feed tables: per-user affinity to authors, interactions, dismissals and preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.clock import utcnow
from townsquare.core.db import Base
from townsquare.core.ids import new_id

_USER = "account_user.id"


class Affinity(Base):
    """How strongly a user engages with an author: likes, comments, shares, clicks, views."""

    __tablename__ = "feed_affinity"

    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Interaction(Base):
    """A recorded feed interaction (view, click, dismiss), for ranking and statistics."""

    __tablename__ = "feed_interaction"
    __table_args__ = (Index("ix_feed_interaction_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("post_post.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dismissal(Base):
    """A post the user dismissed; it never comes back to their feed."""

    __tablename__ = "feed_dismissal"

    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("post_post.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Preferences(Base):
    """The seed's FeedPreferences, one row per user who changed them."""

    __tablename__ = "feed_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    show_achievements: Mapped[bool] = mapped_column(default=True)
    show_progress: Mapped[bool] = mapped_column(default=True)
    show_meals: Mapped[bool] = mapped_column(default=True)
    show_general: Mapped[bool] = mapped_column(default=True)
    show_challenges: Mapped[bool] = mapped_column(default=True)
    prioritize_friends: Mapped[bool] = mapped_column(default=False)
    prioritize_recent: Mapped[bool] = mapped_column(default=False)
    hide_blocked: Mapped[bool] = mapped_column(default=True)
    hide_reported: Mapped[bool] = mapped_column(default=True)
