"""One head: join the per-domain branches so the schema has a single revision.

Revision ID: 0008_one_head
Revises: 0003, 0005_chat_delivery, 0006_search_ranking, 0007_feed_covering
Create Date: 2026-12-01 23:30:00

Every later migration revises the newest single head; `townsquare version` then names one schema
revision and `/readyz` can tell whether the database is at it.
"""

from collections.abc import Sequence

revision: str = "0008_one_head"
down_revision: str | Sequence[str] | None = (
    "0003",
    "0005_chat_delivery",
    "0006_search_ranking",
    "0007_feed_covering",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
