"""The `gateway` command. Each command is a thin wrapper; feature modules add their own groups below."""
from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flask import Flask

# Feature modules each expose `commands`: a list of click commands/groups. They load only when one of their
# commands runs, so `gateway --help` imports neither Flask nor the database. Command name → (module, the one-line
# help `gateway --help` shows); tests/foundation/test_cli_and_logging.py checks each line matches its command.
FEATURE_COMMANDS = {
    "broadcast": ("gateway.meetings_cli", "Preview, then queue a message to an audience (now or at --at)."),
    "broadcasts": ("gateway.meetings_cli", "List broadcasts and follow their progress."),
    "channels": ("gateway.channels_cli", "SMS and USSD provider channels."),
    "complaints": ("gateway.scorecards_cli", "Complaints: list, show, set-status (numbers are never shown)."),
    "audit": ("gateway.privacy_cli", "The audit log: who read or changed what (never a number or a message text)."),
    "contacts": ("gateway.privacy_cli",
                 "Contacts: import a consented list; a person's copy (export) and erasure (forget); rekey."),
    "digest": ("gateway.scorecards_cli", "Build the weekly CSO digest (JSON, CSV, HTML or SMS): aggregates only."),
    "digest-subscribers": ("gateway.scorecards_cli", "CSO focal points who get the weekly SMS summary."),
    "export": ("gateway.scorecards_cli", "Stream results as CSV: released counts, or rows for admins; no numbers."),
    "flows": ("gateway.flows_cli", "Conversation flows: validate and list them."),
    "meetings": ("gateway.meetings_cli",
                 "Announce meetings: notice, reminders, moves, cancellations, RSVP tallies."),
    "outbox": ("gateway.channels_cli", "Outgoing SMS: list queued and failed messages, retry or cancel them."),
    "rounds": ("gateway.scorecards_cli", "Scorecard rounds: create, open, close, show, action items."),
    "serve": ("gateway.serve", "Migrate the database and serve the webhooks, API and scheduler with gunicorn."),
    "simulate": ("gateway.simulate",
                 "Talk to the flows as a basic phone would, through the Africa's Talking webhooks."),
    "tokens": ("gateway.tokens_cli",
               "API tokens: role (cso < staff < admin), scope of admin units, organisation, expiry."),
    "users": ("gateway.users_cli", "Console users: roles cso < staff < admin, each scoped to admin units."),
    "votes": ("gateway.votes_cli", "Local Development Fund (ОНХС) votes: create, open, close, show, results."),
}


class LazyGroup(click.Group):
    """click's lazy-loading group: a feature command's module is imported when that command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *FEATURE_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in FEATURE_COMMANDS:
            for command in importlib.import_module(FEATURE_COMMANDS[name][0]).commands:
                self.add_command(command)
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from FEATURE_COMMANDS, so printing it loads nothing."""
        rows = [(name, self.commands[name].get_short_help_str(formatter.width) if name in self.commands
                 else FEATURE_COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"terminal_width": 120, "max_content_width": 120})
@click.option("--config", "config_path", envvar="GATEWAY_CONFIG", type=click.Path(dir_okay=False),
              help="config.yaml to use (default: ./config.yaml if present).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """SMS and USSD citizen-feedback gateway for Mongolia."""
    ctx.obj = {"config_path": config_path}


CLI_LOG_LEVEL = "WARNING"  # what staff read stays clean: only warnings and errors, as JSON lines on stderr


def make_app(ctx: click.Context, **overrides) -> Flask:
    """Create the app for a command, turning a config problem into one clear line and exit status 2."""
    from gateway.app import create_app
    from gateway.config import ConfigError

    root = ctx.find_root()
    app = root.obj.get("app") if root.obj else None
    if app is None:
        try:
            app = create_app(root.obj["config_path"], log_level=CLI_LOG_LEVEL, **overrides)
        except ConfigError as exc:
            raise click.ClickException(f"configuration error: {exc}") from None
        root.obj["app"] = app
    return app


def with_app(func: Callable) -> Callable:
    """Pass the app as the first argument and run the command inside its app context."""
    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx: click.Context, *args, **kwargs):
        from storage.db import database

        app = make_app(ctx)
        with app.app_context(), database.connection_context():
            return func(app, *args, **kwargs)
    return wrapper


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the config and print the effective values, secrets masked."""
    from gateway.config import ConfigError, load_config, masked
    from gateway.config import warnings as config_warnings

    try:
        config = load_config(ctx.find_root().obj["config_path"])
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    click.echo(json.dumps(masked(config), indent=2, ensure_ascii=False))
    for warning in config_warnings(config):
        click.echo(f"WARNING: {warning}", err=True)
    click.echo("config ok", err=True)


@cli.group("db")
def db_group() -> None:
    """Database migrations, backup and restore."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply pending schema migrations."""
    from storage.db import database, upgrade

    make_app(ctx, migrate=False)
    with database.connection_context():
        applied = upgrade()
    click.echo("applied: " + ", ".join(applied) if applied else "database is up to date")


@db_group.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """List migrations and whether each is applied."""
    from storage.db import database, migration_runner

    make_app(ctx, migrate=False)
    with database.connection_context():
        for migration in migration_runner().status():
            click.echo(f"{'applied' if migration.applied else 'pending':8} {migration.name}")


@db_group.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.pass_context
def db_backup(ctx: click.Context, path: str) -> None:
    """Copy the database to PATH while the service runs (SQLite: online backup; PostgreSQL: pg_dump)."""
    from pathlib import Path

    from storage.backup import BackupError, backup

    app = make_app(ctx, migrate=False)
    try:
        size = backup(app.config["GATEWAY"]["database_url"], Path(path))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up to {path} ({size:,} bytes). Keep the pseudonym key (instance/pseudonym_key or "
               "GATEWAY_PSEUDONYM_KEY) with it: without it no number can be matched to its contact again.")


@db_group.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def db_restore(ctx: click.Context, path: str, yes: bool) -> None:
    """Replace the database's contents with the copy at PATH (stop the service first)."""
    from pathlib import Path

    from gateway.scheduler import LEADER_LEASE
    from storage.backup import BackupError, restore
    from storage.db import database, upgrade
    from storage.leases import live_holder

    app = make_app(ctx, migrate=False)
    with database.connection_context():
        running = live_holder(LEADER_LEASE)
    if running:
        raise click.ClickException(f"a gateway service is running on this database ({running} holds the scheduler "
                                   "lease): stop it first, then restore")
    if not yes:
        click.confirm("everything in the configured database is replaced by the copy; go on?", abort=True)
    database.close()
    try:
        restore(app.config["GATEWAY"]["database_url"], Path(path))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    with database.connection_context():
        applied = upgrade()  # a copy from an older version is brought up to this one
    click.echo(f"restored from {path}" + (f"; migrations applied: {', '.join(applied)}" if applied else ""))


def main() -> None:
    cli(prog_name="gateway")


if __name__ == "__main__":
    sys.exit(main())
