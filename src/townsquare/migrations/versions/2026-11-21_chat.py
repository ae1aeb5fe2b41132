"""Chat: rooms, members, messages with edits and reactions, per-user chat settings, search.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-21 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_room",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("avatar_url", sa.String(length=500), nullable=True),
        sa.Column("direct_key", sa.String(length=41), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("post_policy", sa.String(length=8), nullable=False),
        sa.Column("add_policy", sa.String(length=8), nullable=False),
        sa.Column("slow_mode_seconds", sa.BigInteger(), nullable=False),
        sa.Column("hide_history", sa.Boolean(), nullable=False),
        sa.Column("member_count", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_message_id", sa.BigInteger(), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["account_user.id"],
            name=op.f("fk_chat_room_created_by_account_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_room")),
        sa.UniqueConstraint("direct_key", name=op.f("uq_chat_room_direct_key")),
    )
    op.create_index(
        op.f("ix_chat_room_last_activity_at"), "chat_room", ["last_activity_at"], unique=False
    )
    op.create_table(
        "chat_user_settings",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("read_receipts", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_chat_user_settings_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_chat_user_settings")),
    )
    op.create_table(
        "chat_member",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_read_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["chat_room.id"],
            name=op.f("fk_chat_member_room_id_chat_room"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_chat_member_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_chat_member")),
    )
    op.create_index(
        "ix_chat_member_user_id_room_id", "chat_member", ["user_id", "room_id"], unique=False
    )
    op.create_table(
        "chat_message",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reply_to_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reply_to_id"],
            ["chat_message.id"],
            name=op.f("fk_chat_message_reply_to_id_chat_message"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["chat_room.id"],
            name=op.f("fk_chat_message_room_id_chat_room"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["account_user.id"],
            name=op.f("fk_chat_message_sender_id_account_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_message")),
        sa.UniqueConstraint("room_id", "seq", name="uq_chat_message_room_id_seq"),
        sa.UniqueConstraint("sender_id", "client_id", name="uq_chat_message_sender_id_client_id"),
    )
    op.create_table(
        "chat_message_edit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["chat_message.id"],
            name=op.f("fk_chat_message_edit_message_id_chat_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_message_edit")),
    )
    op.create_index(
        op.f("ix_chat_message_edit_message_id"), "chat_message_edit", ["message_id"], unique=False
    )
    op.create_table(
        "chat_reaction",
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["chat_message.id"],
            name=op.f("fk_chat_reaction_message_id_chat_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_user.id"],
            name=op.f("fk_chat_reaction_user_id_account_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "user_id", "emoji", name=op.f("pk_chat_reaction")),
    )

    _search(create=True)


# full-text search over chat messages (domains/chat/queries.py queries these). The names start
# with "ix_search_" so the migration filter in infra/search.py leaves them out of comparisons.
_SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE ix_search_chat USING fts5(body, "
    "tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER ix_search_chat_insert AFTER INSERT ON chat_message BEGIN "
    "INSERT INTO ix_search_chat(rowid, body) VALUES (new.id, new.text); END",
    "CREATE TRIGGER ix_search_chat_update AFTER UPDATE OF text ON chat_message BEGIN "
    "DELETE FROM ix_search_chat WHERE rowid = old.id; "
    "INSERT INTO ix_search_chat(rowid, body) VALUES (new.id, new.text); END",
    "CREATE TRIGGER ix_search_chat_delete AFTER DELETE ON chat_message BEGIN "
    "DELETE FROM ix_search_chat WHERE rowid = old.id; END",
    "INSERT INTO ix_search_chat(rowid, body) SELECT id, text FROM chat_message",
)
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS ix_search_chat_insert",
    "DROP TRIGGER IF EXISTS ix_search_chat_update",
    "DROP TRIGGER IF EXISTS ix_search_chat_delete",
    "DROP TABLE IF EXISTS ix_search_chat",
)
_PG_CREATE = (
    "CREATE INDEX ix_search_chat_message_text ON chat_message USING gin "
    "((to_tsvector('simple'::regconfig, coalesce(text, ''))))",
)
_PG_DROP = ("DROP INDEX IF EXISTS ix_search_chat_message_text",)


def _search(*, create: bool) -> None:
    """FTS5 on SQLite, a GIN expression index on PostgreSQL; both outside the metadata."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    statements: tuple[str, ...]
    if sqlite:
        statements = _SQLITE_CREATE if create else _SQLITE_DROP
    else:
        statements = _PG_CREATE if create else _PG_DROP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    _search(create=False)
    op.drop_table("chat_reaction")
    op.drop_index(op.f("ix_chat_message_edit_message_id"), table_name="chat_message_edit")
    op.drop_table("chat_message_edit")
    op.drop_table("chat_message")
    op.drop_index("ix_chat_member_user_id_room_id", table_name="chat_member")
    op.drop_table("chat_member")
    op.drop_table("chat_user_settings")
    op.drop_index(op.f("ix_chat_room_last_activity_at"), table_name="chat_room")
    op.drop_table("chat_room")
