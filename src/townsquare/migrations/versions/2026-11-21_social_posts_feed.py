"""Social graph, posts, interactions, feed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 22:39:31.739721
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

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


def downgrade() -> None:

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
