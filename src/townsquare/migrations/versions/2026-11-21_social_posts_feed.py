"""Social graph, posts, interactions, feed, and full-text search indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 22:45:23.210281
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "feed_affinity",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["account_user.id"],
            name=op.f("fk_feed_affinity_author_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_feed_affinity_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "author_id", name=op.f("pk_feed_affinity")),
    )
    op.create_table(
        "feed_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("show_achievements", sa.Boolean(), nullable=False),
        sa.Column("show_progress", sa.Boolean(), nullable=False),
        sa.Column("show_meals", sa.Boolean(), nullable=False),
        sa.Column("show_general", sa.Boolean(), nullable=False),
        sa.Column("show_challenges", sa.Boolean(), nullable=False),
        sa.Column("prioritize_friends", sa.Boolean(), nullable=False),
        sa.Column("prioritize_recent", sa.Boolean(), nullable=False),
        sa.Column("hide_blocked", sa.Boolean(), nullable=False),
        sa.Column("hide_reported", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_feed_preferences_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_feed_preferences")),
    )
    op.create_table(
        "post_post",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("privacy", sa.String(length=16), nullable=False),
        sa.Column(
            "meta",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "mentions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("shared_post_id", sa.BigInteger(), nullable=True),
        sa.Column("likes_count", sa.BigInteger(), nullable=False),
        sa.Column("comments_count", sa.BigInteger(), nullable=False),
        sa.Column("shares_count", sa.BigInteger(), nullable=False),
        sa.Column("views_count", sa.BigInteger(), nullable=False),
        sa.Column("reports_count", sa.BigInteger(), nullable=False),
        sa.Column("is_edited", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["account_user.id"],
            name=op.f("fk_post_post_author_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shared_post_id"],
            ["post_post.id"],
            name=op.f("fk_post_post_shared_post_id_post_post"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_post")),
    )
    with op.batch_alter_table("post_post", schema=None) as batch_op:
        batch_op.create_index("ix_post_post_author_id_id", ["author_id", "id"], unique=False)
        batch_op.create_index("ix_post_post_privacy_id", ["privacy", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_post_post_shared_post_id"), ["shared_post_id"], unique=False
        )

    op.create_table(
        "social_block",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("blocker_id", sa.BigInteger(), nullable=False),
        sa.Column("blocked_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blocked_id"],
            ["account_user.id"],
            name=op.f("fk_social_block_blocked_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["blocker_id"],
            ["account_user.id"],
            name=op.f("fk_social_block_blocker_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_block")),
        sa.UniqueConstraint("blocker_id", "blocked_id", name=op.f("uq_social_block_blocker_id")),
    )
    with op.batch_alter_table("social_block", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_social_block_blocked_id"), ["blocked_id"], unique=False
        )
        batch_op.create_index("ix_social_block_blocker_id_id", ["blocker_id", "id"], unique=False)

    op.create_table(
        "social_follow",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("follower_id", sa.BigInteger(), nullable=False),
        sa.Column("followee_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["followee_id"],
            ["account_user.id"],
            name=op.f("fk_social_follow_followee_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["follower_id"],
            ["account_user.id"],
            name=op.f("fk_social_follow_follower_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_follow")),
        sa.UniqueConstraint(
            "follower_id", "followee_id", name=op.f("uq_social_follow_follower_id")
        ),
    )
    with op.batch_alter_table("social_follow", schema=None) as batch_op:
        batch_op.create_index(
            "ix_social_follow_followee_id_id", ["followee_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_social_follow_follower_id_id", ["follower_id", "id"], unique=False
        )

    op.create_table(
        "social_friend_request",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=False),
        sa.Column("receiver_id", sa.BigInteger(), nullable=False),
        sa.Column("user_low", sa.BigInteger(), nullable=False),
        sa.Column("user_high", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["account_user.id"],
            name=op.f("fk_social_friend_request_receiver_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["account_user.id"],
            name=op.f("fk_social_friend_request_sender_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_friend_request")),
        sa.UniqueConstraint(
            "user_low", "user_high", name=op.f("uq_social_friend_request_user_low")
        ),
    )
    with op.batch_alter_table("social_friend_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_social_friend_request_receiver_id_id", ["receiver_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_social_friend_request_sender_id_id", ["sender_id", "id"], unique=False
        )

    op.create_table(
        "social_friendship",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("friend_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["friend_id"],
            ["account_user.id"],
            name=op.f("fk_social_friendship_friend_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_social_friendship_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_friendship")),
        sa.UniqueConstraint("user_id", "friend_id", name=op.f("uq_social_friendship_user_id")),
    )
    with op.batch_alter_table("social_friendship", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_social_friendship_friend_id"), ["friend_id"], unique=False
        )
        batch_op.create_index("ix_social_friendship_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "social_mute",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("muter_id", sa.BigInteger(), nullable=False),
        sa.Column("muted_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["muted_id"],
            ["account_user.id"],
            name=op.f("fk_social_mute_muted_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["muter_id"],
            ["account_user.id"],
            name=op.f("fk_social_mute_muter_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_mute")),
        sa.UniqueConstraint("muter_id", "muted_id", name=op.f("uq_social_mute_muter_id")),
    )
    with op.batch_alter_table("social_mute", schema=None) as batch_op:
        batch_op.create_index("ix_social_mute_muter_id_id", ["muter_id", "id"], unique=False)

    op.create_table(
        "feed_dismissal",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_feed_dismissal_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_feed_dismissal_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "post_id", name=op.f("pk_feed_dismissal")),
    )
    op.create_table(
        "feed_interaction",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_feed_interaction_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_feed_interaction_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_interaction")),
    )
    with op.batch_alter_table("feed_interaction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_interaction_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_feed_interaction_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "post_comment",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("replies_count", sa.BigInteger(), nullable=False),
        sa.Column("is_edited", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["account_user.id"],
            name=op.f("fk_post_comment_author_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["post_comment.id"],
            name=op.f("fk_post_comment_parent_id_post_comment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_post_comment_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_comment")),
    )
    with op.batch_alter_table("post_comment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_comment_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_post_comment_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index("ix_post_comment_post_id_id", ["post_id", "id"], unique=False)

    op.create_table(
        "post_edit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("editor_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["account_user.id"],
            name=op.f("fk_post_edit_editor_id_account_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_post_edit_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_edit")),
    )
    with op.batch_alter_table("post_edit", schema=None) as batch_op:
        batch_op.create_index("ix_post_edit_post_id_id", ["post_id", "id"], unique=False)

    op.create_table(
        "post_like",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_post_like_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_post_like_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_post_like")),
    )
    with op.batch_alter_table("post_like", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_like_user_id"), ["user_id"], unique=False)

    op.create_table(
        "post_media",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("thumb_key", sa.String(length=255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.BigInteger(), nullable=True),
        sa.Column("height", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["account_user.id"],
            name=op.f("fk_post_media_owner_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_post_media_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_media")),
    )
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_media_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_post_media_post_id"), ["post_id"], unique=False)

    op.create_table(
        "post_mention",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_post_mention_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_post_mention_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_post_mention")),
    )
    with op.batch_alter_table("post_mention", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_mention_user_id"), ["user_id"], unique=False)

    op.create_table(
        "post_report",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("details", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_post_report_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["account_user.id"],
            name=op.f("fk_post_report_reporter_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_report")),
        sa.UniqueConstraint("post_id", "reporter_id", name=op.f("uq_post_report_post_id")),
    )
    with op.batch_alter_table("post_report", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_post_report_reporter_id"), ["reporter_id"], unique=False
        )

    op.create_table(
        "post_tag",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_post_tag_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "tag", name=op.f("pk_post_tag")),
    )
    with op.batch_alter_table("post_tag", schema=None) as batch_op:
        batch_op.create_index("ix_post_tag_tag_post_id", ["tag", "post_id"], unique=False)

    op.create_table(
        "post_view",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post_post.id"],
            name=op.f("fk_post_view_post_id_post_post"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_post_view_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", "day", name=op.f("pk_post_view")),
    )
    _search(create=True)


# full-text search (infra/search.py queries these; they live outside the models' metadata)
_POST_DOCUMENT = "to_tsvector('simple'::regconfig, coalesce(text, ''))"
_USER_DOCUMENT = "to_tsvector('simple'::regconfig, username || ' ' || coalesce(display_name, ''))"
_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE search_post USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_post_insert AFTER INSERT ON post_post BEGIN "
    "INSERT INTO search_post(rowid, body) VALUES (new.id, new.text); END",
    "CREATE TRIGGER search_post_update AFTER UPDATE OF text ON post_post BEGIN "
    "DELETE FROM search_post WHERE rowid = old.id; "
    "INSERT INTO search_post(rowid, body) VALUES (new.id, new.text); END",
    "CREATE TRIGGER search_post_delete AFTER DELETE ON post_post BEGIN "
    "DELETE FROM search_post WHERE rowid = old.id; END",
    "INSERT INTO search_post(rowid, body) SELECT id, text FROM post_post",
    "CREATE VIRTUAL TABLE search_user USING fts5(username, display_name, "
    "tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_user_insert AFTER INSERT ON account_user BEGIN "
    "INSERT INTO search_user(rowid, username, display_name) "
    "VALUES (new.id, new.username, coalesce(new.display_name, '')); END",
    "CREATE TRIGGER search_user_update AFTER UPDATE OF username, display_name ON account_user "
    "BEGIN DELETE FROM search_user WHERE rowid = old.id; "
    "INSERT INTO search_user(rowid, username, display_name) "
    "VALUES (new.id, new.username, coalesce(new.display_name, '')); END",
    "CREATE TRIGGER search_user_delete AFTER DELETE ON account_user BEGIN "
    "DELETE FROM search_user WHERE rowid = old.id; END",
    "INSERT INTO search_user(rowid, username, display_name) "
    "SELECT id, username, coalesce(display_name, '') FROM account_user",
)
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS search_post_insert",
    "DROP TRIGGER IF EXISTS search_post_update",
    "DROP TRIGGER IF EXISTS search_post_delete",
    "DROP TRIGGER IF EXISTS search_user_insert",
    "DROP TRIGGER IF EXISTS search_user_update",
    "DROP TRIGGER IF EXISTS search_user_delete",
    "DROP TABLE IF EXISTS search_post",
    "DROP TABLE IF EXISTS search_user",
)
_POSTGRES_DDL = (
    f"CREATE INDEX ix_search_post_text ON post_post USING gin (({_POST_DOCUMENT}))",
    f"CREATE INDEX ix_search_user_name ON account_user USING gin (({_USER_DOCUMENT}))",
)
_POSTGRES_DROP = (
    "DROP INDEX IF EXISTS ix_search_post_text",
    "DROP INDEX IF EXISTS ix_search_user_name",
)


def _search(*, create: bool) -> None:
    """Full-text search objects outside the metadata: FTS5 on SQLite, GIN on PostgreSQL."""
    statements: tuple[str, ...]
    if op.get_bind().dialect.name == "postgresql":
        statements = _POSTGRES_DDL if create else _POSTGRES_DROP
    else:
        statements = _SQLITE_DDL if create else _SQLITE_DROP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    _search(create=False)

    op.drop_table("post_view")
    with op.batch_alter_table("post_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_post_tag_tag_post_id")

    op.drop_table("post_tag")
    with op.batch_alter_table("post_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_report_reporter_id"))

    op.drop_table("post_report")
    with op.batch_alter_table("post_mention", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_mention_user_id"))

    op.drop_table("post_mention")
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_media_post_id"))
        batch_op.drop_index(batch_op.f("ix_post_media_owner_id"))

    op.drop_table("post_media")
    with op.batch_alter_table("post_like", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_like_user_id"))

    op.drop_table("post_like")
    with op.batch_alter_table("post_edit", schema=None) as batch_op:
        batch_op.drop_index("ix_post_edit_post_id_id")

    op.drop_table("post_edit")
    with op.batch_alter_table("post_comment", schema=None) as batch_op:
        batch_op.drop_index("ix_post_comment_post_id_id")
        batch_op.drop_index(batch_op.f("ix_post_comment_parent_id"))
        batch_op.drop_index(batch_op.f("ix_post_comment_author_id"))

    op.drop_table("post_comment")
    with op.batch_alter_table("feed_interaction", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_interaction_user_id_id")
        batch_op.drop_index(batch_op.f("ix_feed_interaction_post_id"))

    op.drop_table("feed_interaction")
    op.drop_table("feed_dismissal")
    with op.batch_alter_table("social_mute", schema=None) as batch_op:
        batch_op.drop_index("ix_social_mute_muter_id_id")

    op.drop_table("social_mute")
    with op.batch_alter_table("social_friendship", schema=None) as batch_op:
        batch_op.drop_index("ix_social_friendship_user_id_id")
        batch_op.drop_index(batch_op.f("ix_social_friendship_friend_id"))

    op.drop_table("social_friendship")
    with op.batch_alter_table("social_friend_request", schema=None) as batch_op:
        batch_op.drop_index("ix_social_friend_request_sender_id_id")
        batch_op.drop_index("ix_social_friend_request_receiver_id_id")

    op.drop_table("social_friend_request")
    with op.batch_alter_table("social_follow", schema=None) as batch_op:
        batch_op.drop_index("ix_social_follow_follower_id_id")
        batch_op.drop_index("ix_social_follow_followee_id_id")

    op.drop_table("social_follow")
    with op.batch_alter_table("social_block", schema=None) as batch_op:
        batch_op.drop_index("ix_social_block_blocker_id_id")
        batch_op.drop_index(batch_op.f("ix_social_block_blocked_id"))

    op.drop_table("social_block")
    with op.batch_alter_table("post_post", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_post_shared_post_id"))
        batch_op.drop_index("ix_post_post_privacy_id")
        batch_op.drop_index("ix_post_post_author_id_id")

    op.drop_table("post_post")
    op.drop_table("feed_preferences")
    op.drop_table("feed_affinity")
