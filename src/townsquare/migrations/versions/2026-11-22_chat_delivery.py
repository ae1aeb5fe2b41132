"""Chat: per-member delivery mark, for the sent/delivered/read status of messages.

Revision ID: 0005_chat_delivery
Revises: 0004
Create Date: 2026-11-22 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_chat_delivery"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_member") as batch:
        batch.add_column(
            sa.Column("last_delivered_seq", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_member") as batch:
        batch.drop_column("last_delivered_seq")
