"""Accounts: users, settings, login sessions, refresh tokens, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 22:16:53.442755
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_user",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=30), nullable=False),
        sa.Column("username_key", sa.String(length=30), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=60), nullable=True),
        sa.Column("bio", sa.String(length=500), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("avatar_key", sa.String(length=255), nullable=True),
        sa.Column("avatar_thumb_key", sa.String(length=255), nullable=True),
        sa.Column(
            "social_links",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("followers_count", sa.BigInteger(), nullable=False),
        sa.Column("following_count", sa.BigInteger(), nullable=False),
        sa.Column("posts_count", sa.BigInteger(), nullable=False),
        sa.Column("achievements_count", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_user")),
        sa.UniqueConstraint("email_key", name=op.f("uq_account_user_email_key")),
        sa.UniqueConstraint("username_key", name=op.f("uq_account_user_username_key")),
    )
    op.create_table(
        "account_audit_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("target_user_id", sa.BigInteger(), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["account_user.id"],
            name=op.f("fk_account_audit_event_actor_id_account_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_user_id"],
            ["account_user.id"],
            name=op.f("fk_account_audit_event_target_user_id_account_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_audit_event")),
    )
    with op.batch_alter_table("account_audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(
            "ix_account_audit_event_target_user_id_id", ["target_user_id", "id"], unique=False
        )

    op.create_table(
        "account_session",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_account_session_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_session")),
    )
    with op.batch_alter_table("account_session", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_session_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "account_settings",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("profile_visibility", sa.String(length=16), nullable=False),
        sa.Column("show_email", sa.Boolean(), nullable=False),
        sa.Column("show_location", sa.Boolean(), nullable=False),
        sa.Column("show_activity", sa.Boolean(), nullable=False),
        sa.Column("allow_friend_requests", sa.Boolean(), nullable=False),
        sa.Column("allow_messages", sa.String(length=16), nullable=False),
        sa.Column("show_online_status", sa.Boolean(), nullable=False),
        sa.Column(
            "notification_categories",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_account_settings_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_settings")),
    )
    op.create_table(
        "account_refresh_token",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["account_session.id"],
            name=op.f("fk_account_refresh_token_session_id_account_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_refresh_token_token_hash")),
    )
    with op.batch_alter_table("account_refresh_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_refresh_token_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_refresh_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_refresh_token_session_id"))

    op.drop_table("account_refresh_token")
    op.drop_table("account_settings")
    with op.batch_alter_table("account_session", schema=None) as batch_op:
        batch_op.drop_index("ix_account_session_user_id_created_at")

    op.drop_table("account_session")
    with op.batch_alter_table("account_audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_account_audit_event_target_user_id_id")
        batch_op.drop_index(batch_op.f("ix_account_audit_event_action"))

    op.drop_table("account_audit_event")
    op.drop_table("account_user")
