"""Notifications: notifications, channel preferences, quiet hours and digests, push subscriptions.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("group_key", sa.String(length=120), nullable=True),
        sa.Column("group_count", sa.BigInteger(), nullable=False),
        sa.Column(
            "sample_actors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("push_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["account_user.id"],
            name=op.f("fk_notification_actor_id_account_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["account_user.id"],
            name=op.f("fk_notification_recipient_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(
        op.f("ix_notification_expires_at"), "notification", ["expires_at"], unique=False
    )
    op.create_index(
        "ix_notification_recipient_id_group_key",
        "notification",
        ["recipient_id", "group_key"],
        unique=False,
    )
    op.create_index(
        "ix_notification_recipient_id_read_at",
        "notification",
        ["recipient_id", "read_at"],
        unique=False,
    )
    op.create_index(
        "ix_notification_recipient_id_updated_at_id",
        "notification",
        ["recipient_id", "updated_at", "id"],
        unique=False,
    )
    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_notification_preference_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "category", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "notification_push_subscription",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("endpoint_hash", sa.String(length=64), nullable=False),
        sa.Column("p256dh", sa.String(length=200), nullable=False),
        sa.Column("auth", sa.String(length=100), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_notification_push_subscription_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_push_subscription")),
        sa.UniqueConstraint(
            "endpoint_hash", name=op.f("uq_notification_push_subscription_endpoint_hash")
        ),
    )
    op.create_index(
        op.f("ix_notification_push_subscription_user_id"),
        "notification_push_subscription",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "notification_schedule",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("quiet_start_minute", sa.BigInteger(), nullable=True),
        sa.Column("quiet_end_minute", sa.BigInteger(), nullable=True),
        sa.Column("last_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_notification_schedule_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_schedule")),
    )


def downgrade() -> None:
    op.drop_table("notification_schedule")
    op.drop_index(
        op.f("ix_notification_push_subscription_user_id"),
        table_name="notification_push_subscription",
    )
    op.drop_table("notification_push_subscription")
    op.drop_table("notification_preference")
    op.drop_index("ix_notification_recipient_id_updated_at_id", table_name="notification")
    op.drop_index("ix_notification_recipient_id_read_at", table_name="notification")
    op.drop_index("ix_notification_recipient_id_group_key", table_name="notification")
    op.drop_index(op.f("ix_notification_expires_at"), table_name="notification")
    op.drop_table("notification")
