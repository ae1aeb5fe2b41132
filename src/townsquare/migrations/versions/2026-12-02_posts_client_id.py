"""Posts and comments: the author's idempotency key, so an offline client's replay is applied once.

Revision ID: 0009_posts_client_id
Revises: 0008_one_head
Create Date: 2026-12-02 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_posts_client_id"
down_revision: str | None = "0008_one_head"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE, no batch copy: on SQLite a copy would drop the search triggers
    for table in ("post_post", "post_comment"):
        op.add_column(table, sa.Column("client_id", sa.String(length=128), nullable=True))
        op.create_index(
            f"ix_{table}_author_id_client_id", table, ["author_id", "client_id"], unique=True
        )


def downgrade() -> None:
    for table in ("post_post", "post_comment"):
        op.drop_index(f"ix_{table}_author_id_client_id", table_name=table)
        op.drop_column(table, "client_id")
