"""Covering index for feed candidates: the newest posts of a set of authors, read from the index.

Revision ID: 0007_feed_covering
Revises: 0002
Create Date: 2026-11-22 01:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_feed_covering"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    "author_id",
    "id",
    "type",
    "privacy",
    "likes_count",
    "comments_count",
    "shares_count",
    "reports_count",
]


def upgrade() -> None:
    # every column the candidate query filters on or scores with: no table row is read
    op.create_index("ix_post_post_feed", "post_post", COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index("ix_post_post_feed", table_name="post_post")
