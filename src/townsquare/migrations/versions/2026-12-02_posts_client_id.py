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
    for table in ("post_post", "post_comment"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("client_id", sa.String(length=128), nullable=True))
            batch.create_unique_constraint(
                f"uq_{table}_author_id_client_id", ["author_id", "client_id"]
            )


def downgrade() -> None:
    for table in ("post_post", "post_comment"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_author_id_client_id", type_="unique")
            batch.drop_column("client_id")
