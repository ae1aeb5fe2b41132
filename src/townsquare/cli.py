"""The `townsquare` command: serve, gateway, worker, migrate, admin, demo, version."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Coroutine
from typing import Annotated, Any

import typer
from rich.console import Console

from townsquare import __version__
from townsquare.config import Settings

app = typer.Typer(help="townsquare: a self-hostable social community server.", no_args_is_help=True)
admin_app = typer.Typer(help="Administer accounts.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
console = Console(stderr=True)


@app.command()
def version() -> None:
    """Print the townsquare version and the schema revision it expects."""
    from townsquare.core.migrations import current_heads

    typer.echo(f"townsquare {__version__} (schema {current_heads()})")


@app.command()
def migrate() -> None:
    """Apply database migrations up to the newest schema, naming each one applied."""
    from townsquare.core.migrations import describe, upgrade

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    applied = upgrade(settings.resolved_database_url)
    for revision in applied:
        console.print(f"applied {describe(revision)}")
    state = f"{len(applied)} migration(s) applied" if applied else "nothing to apply"
    console.print(
        f"[green]Database is up to date[/green]: {state} "
        f"({_safe_url(settings.resolved_database_url)})"
    )


MigrateFlag = Annotated[
    bool,
    typer.Option(
        "--migrate",
        help="Cluster mode: apply pending migrations first (under an advisory lock) instead of "
        "refusing to start",
    ),
]


def prepare_schema(settings: Settings, *, migrate: bool) -> None:
    """Bring or check the schema before serving, so no request meets a missing table.

    Embedded mode (SQLite) migrates itself: it is one process and owns its file. On PostgreSQL
    several processes share the database, so a schema that is behind stops the start with the
    command to run, unless `--migrate` asks this process to apply it under an advisory lock.
    """
    from sqlalchemy.exc import DBAPIError

    from townsquare.core.migrations import (
        describe,
        head_revisions,
        schema_revisions_of,
        upgrade,
        upgrade_locked,
    )

    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        for revision in upgrade(url):
            console.print(f"applied {describe(revision)}")
        return
    try:
        current = asyncio.run(schema_revisions_of(url))
    except (OSError, ConnectionError, DBAPIError) as exc:  # the database is not there at all
        console.print(f"[red]Cannot reach the database ({_safe_url(url)}): {exc}[/red]")
        raise typer.Exit(2) from exc
    if current == head_revisions():
        return
    if migrate:
        for revision in asyncio.run(upgrade_locked(url)):
            console.print(f"applied {describe(revision)}")
        return
    at = ",".join(current) or "empty"
    console.print(
        f"[red]The database schema is behind this townsquare (database at {at}, this version "
        f"needs {','.join(head_revisions())}). Run `townsquare migrate` first, or start with "
        "--migrate.[/red]"
    )
    raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address for the API")] = None,
    port: Annotated[int | None, typer.Option(help="Port for the API")] = None,
    gateway_port: Annotated[int | None, typer.Option(help="Port for the real-time gateway")] = None,
    migrate: MigrateFlag = False,
) -> None:
    """Serve the API (and the real-time gateway beside it) until interrupted."""
    from townsquare.server import run_server

    settings = Settings()
    prepare_schema(settings, migrate=migrate)
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    if gateway_port is not None:
        settings.gateway_port = gateway_port
    run_event_loop(run_server(settings))


@app.command()
def gateway(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port for the gateway")] = None,
    migrate: MigrateFlag = False,
) -> None:
    """Serve only the real-time gateway (for cluster deployments with Redis)."""
    from townsquare.server import run_gateway

    settings = Settings()
    prepare_schema(settings, migrate=migrate)
    if host is not None:
        settings.host = host
    if port is not None:
        settings.gateway_port = port
    run_event_loop(run_gateway(settings))


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once")] = None,
    migrate: MigrateFlag = False,
) -> None:
    """Run background jobs from the Redis queue (cluster mode; embedded serve runs them itself)."""
    from townsquare.server import run_worker

    settings = Settings()
    if concurrency is not None:
        settings.jobs_concurrency = concurrency
    if not settings.cluster:
        console.print("[red]townsquare worker needs TOWNSQUARE_REDIS_URL (cluster mode)[/red]")
        raise typer.Exit(2)
    prepare_schema(settings, migrate=migrate)
    run_event_loop(run_worker(settings))


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="How many users to generate")] = 12,
    if_empty: Annotated[bool, typer.Option(help="Only when the database has no users")] = False,
    seed: Annotated[int, typer.Option(help="Random seed, for repeatable communities")] = 7,
) -> None:
    """Load a demo community (a dozen users by default; --users 100000 for benchmarks)."""
    from townsquare.demo import generate_demo

    asyncio.run(
        generate_demo(Settings(), users=users, if_empty=if_empty, seed=seed, console=console)
    )


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Argument(help="Username of the new admin")],
    email: Annotated[str, typer.Option(help="Email address")],
    password: Annotated[
        str | None, typer.Option(help="Password (asked for when omitted)", show_default=False)
    ] = None,
) -> None:
    """Create an admin account (or promote an existing one by the same username)."""
    from townsquare.demo import create_admin

    secret = password or getpass.getpass("Password: ")
    try:
        created = asyncio.run(
            create_admin(Settings(), username=username, email=email, password=secret)
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from exc
    console.print(f"[green]{'Created' if created else 'Promoted'} admin {username}[/green]")


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived service on uvloop (the gateway's figures are measured on it)."""
    import uvloop

    uvloop.run(main)


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()
