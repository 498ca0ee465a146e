"""The `gateway` command. Each command is a thin wrapper; feature modules add their own groups below."""
from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable

import click
from flask import Flask

from gateway.config import ConfigError, load_config, masked


@click.group(context_settings={"terminal_width": 120, "max_content_width": 120})  # whole one-line descriptions
@click.option("--config", "config_path", envvar="GATEWAY_CONFIG", type=click.Path(dir_okay=False),
              help="config.yaml to use (default: ./config.yaml if present).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """SMS and USSD citizen-feedback gateway for Mongolia."""
    ctx.obj = {"config_path": config_path}


def make_app(ctx: click.Context, **overrides) -> Flask:
    """Create the app for a command, turning a config problem into one clear line and exit status 2."""
    from gateway.app import create_app

    root = ctx.find_root()
    app = root.obj.get("app") if root.obj else None
    if app is None:
        try:
            app = create_app(root.obj["config_path"], **overrides)
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
    try:
        config = load_config(ctx.find_root().obj["config_path"])
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    click.echo(json.dumps(masked(config), indent=2, ensure_ascii=False))
    click.echo("config ok", err=True)


@cli.group("db")
def db_group() -> None:
    """Database migrations."""


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


# Feature modules each expose `commands`: a list of click commands/groups to add. They are imported after
# `make_app` exists because they import it from here.
COMMAND_MODULES = [
    "gateway.serve",
    "gateway.flows_cli",
    "gateway.simulate",
    "gateway.channels_cli",
    "gateway.meetings_cli",
    "gateway.scorecards_cli",
    "gateway.tokens_cli",
    "gateway.users_cli",
]


def _add_feature_commands() -> None:
    for name in COMMAND_MODULES:
        for command in importlib.import_module(name).commands:
            cli.add_command(command)


_add_feature_commands()


def main() -> None:
    cli(prog_name="gateway")


if __name__ == "__main__":
    sys.exit(main())
