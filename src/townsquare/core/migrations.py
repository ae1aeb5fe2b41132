"""Programmatic Alembic: `townsquare migrate` and the tests run the same migrations."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = "townsquare:migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config for one database, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s")
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring a database to `revision` (blocking; call from a thread inside an event loop)."""
    command.upgrade(alembic_config(database_url), revision)


def current_heads(database_url: str) -> str:
    """The script's head revision, for `townsquare version`."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    return ",".join(heads)
