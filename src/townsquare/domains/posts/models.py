"""Post tables; engagement counters live on the post row and change only by SQL arithmetic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.clock import utcnow
from townsquare.core.db import Base, JSONType
from townsquare.core.ids import new_id

_USER = "account_user.id"
_POST = "post_post.id"


class Post(Base):
    """A post; a share is a post whose `shared_post_id` names the original."""

    __tablename__ = "post_post"
    __table_args__ = (
        Index("ix_post_post_author_id_id", "author_id", "id"),
        Index("ix_post_post_privacy_id", "privacy", "id"),
        Index(  # feed candidates read from the index alone (migration 0007_feed_covering)
            "ix_post_post_feed",
            *("author_id", "id", "type", "privacy", "likes_count", "comments_count"),
            *("shares_count", "reports_count"),
        ),
        # a unique index, not a constraint: SQLite adds it without rebuilding the table
        Index("ix_post_post_author_id_client_id", "author_id", "client_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    author_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16), default="general")
    privacy: Mapped[str] = mapped_column(String(16), default="public")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    mentions: Mapped[list[str]] = mapped_column(JSONType, default=list)  # resolved usernames
    shared_post_id: Mapped[int | None] = mapped_column(
        ForeignKey(_POST, ondelete="SET NULL"), index=True
    )
    likes_count: Mapped[int] = mapped_column(default=0)
    comments_count: Mapped[int] = mapped_column(default=0)
    shares_count: Mapped[int] = mapped_column(default=0)
    views_count: Mapped[int] = mapped_column(default=0)
    reports_count: Mapped[int] = mapped_column(default=0)
    is_edited: Mapped[bool] = mapped_column(default=False)
    client_id: Mapped[str | None] = mapped_column(String(128))  # the author's idempotency key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostEdit(Base):
    """A previous version of a post, kept when it is edited."""

    __tablename__ = "post_edit"
    __table_args__ = (Index("ix_post_edit_post_id_id", "post_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    post_id: Mapped[int] = mapped_column(ForeignKey(_POST, ondelete="CASCADE"))
    editor_id: Mapped[int | None] = mapped_column(ForeignKey(_USER, ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostTag(Base):
    """One hashtag of a post, for hashtag pages and trending."""

    __tablename__ = "post_tag"
    __table_args__ = (Index("ix_post_tag_tag_post_id", "tag", "post_id"),)

    post_id: Mapped[int] = mapped_column(ForeignKey(_POST, ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)


class PostMention(Base):
    """A user named with @username in a post."""

    __tablename__ = "post_mention"

    post_id: Mapped[int] = mapped_column(ForeignKey(_POST, ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey(_USER, ondelete="CASCADE"), primary_key=True, index=True
    )


class PostMedia(Base):
    """An uploaded file; attached to at most one post, by its owner."""

    __tablename__ = "post_media"

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), index=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey(_POST, ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    thumb_key: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column()
    width: Mapped[int | None] = mapped_column()
    height: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostLike(Base):
    """One user's like of one post; the primary key makes liking idempotent."""

    __tablename__ = "post_like"

    post_id: Mapped[int] = mapped_column(ForeignKey(_POST, ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey(_USER, ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(Base):
    """A comment on a post, or a reply to a top-level comment (one level deep)."""

    __tablename__ = "post_comment"
    __table_args__ = (
        Index("ix_post_comment_post_id_id", "post_id", "id"),
        Index("ix_post_comment_author_id_client_id", "author_id", "client_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    post_id: Mapped[int] = mapped_column(ForeignKey(_POST, ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("post_comment.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    replies_count: Mapped[int] = mapped_column(default=0)
    is_edited: Mapped[bool] = mapped_column(default=False)
    client_id: Mapped[str | None] = mapped_column(String(128))  # the author's idempotency key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostView(Base):
    """A view, counted once per user per post per UTC day."""

    __tablename__ = "post_view"

    post_id: Mapped[int] = mapped_column(ForeignKey(_POST, ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), primary_key=True)
    day: Mapped[int] = mapped_column(primary_key=True)  # days since 1970-01-01


class PostReport(Base):
    """A report of a post, stored for moderators."""

    __tablename__ = "post_report"
    __table_args__ = (UniqueConstraint("post_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=new_id)
    post_id: Mapped[int] = mapped_column(ForeignKey(_POST, ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey(_USER, ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    details: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
