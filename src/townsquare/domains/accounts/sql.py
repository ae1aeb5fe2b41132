"""SQL fragments of the account tables, for other domains' reads that must stay one statement.

Only this domain knows the columns of `account_user` and `account_settings` (decision 0005).
SQLAlchemy pieces compose into ORM queries; text pieces compose into the feed's driver-level
statements (`feed/pages.py`: `?` is a value, `IN ?L` a list of ids).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select

from townsquare.domains.accounts.models import User, UserSettings

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
BANNED = "banned"


def user_id() -> ColumnElement[int]:
    """The account id, to filter, order or join on."""
    return User.id.expression


def join_user(query: Q, on: Any) -> Q:
    """The query joined to the account whose id is `on`, for the other fragments here."""
    return query.join(User, User.id == on)


def not_banned() -> ColumnElement[bool]:
    """The (joined) account is not banned: a banned member's content disappears everywhere."""
    return User.status != BANNED


def is_active() -> ColumnElement[bool]:
    """The (joined) account is active: neither banned nor suspended."""
    return User.status == "active"


def status() -> ColumnElement[str]:
    """The (joined) account's status, for policies that decide in Python."""
    return User.status.expression


def has_username_key(key: str) -> ColumnElement[bool]:
    """The (joined) account's username is `key` (a casefolded username)."""
    return User.username_key == key


def summary_columns() -> tuple[ColumnElement[Any], ...]:
    """(id, username, display name, avatar thumbnail key): what a user summary shows."""
    return (
        User.id.expression,
        User.username.expression,
        User.display_name.expression,
        User.avatar_thumb_key.expression,
    )


def settings_user_id() -> ColumnElement[int]:
    """The user id of `account_settings` (one row per user), to select settings from."""
    return UserSettings.user_id.expression


def notification_categories() -> ColumnElement[Any]:
    """The account's notification category switches (`account_settings`)."""
    return UserSettings.notification_categories.expression


def in_standing(account_status: str) -> bool:
    """Python twin of `not_banned`, for rows read raw with `author_sql`."""
    return account_status != BANNED


# text fragments for driver-level statements ------------------------------------------------------

# the same row as accounts.queries._STANDING, for `principal_in_standing` (decision 0003)
STANDING_SQL = """
SELECT u.username, u.role, u.status, s.revoked_at
FROM account_user u JOIN account_session s ON s.user_id = u.id
WHERE u.id = ? AND s.id = ?
"""


def join_user_sql(on: str, alias: str) -> str:
    """`JOIN account_user <alias>` on the account whose id is the column `on`."""
    return f"JOIN account_user {alias} ON {alias}.id = {on}"


def not_banned_sql(alias: str) -> str:
    """The joined account `alias` is not banned."""
    return f"{alias}.status <> '{BANNED}'"


def author_sql(alias: str) -> str:
    """Username, display name, avatar thumbnail key and status of the joined account `alias`."""
    return f"{alias}.username, {alias}.display_name, {alias}.avatar_thumb_key, {alias}.status"
