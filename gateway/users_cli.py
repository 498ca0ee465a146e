"""`gateway users create|list|invite|password|unlock|disable|enable`: console users (see gateway.console.auth)."""
from __future__ import annotations

import click
from flask import Flask

from gateway.cli import with_app
from storage.access import ROLES


def base_url(app: Flask) -> str:
    config = app.config["GATEWAY"]
    return (config["public_url"] or f"http://{config['server']['host']}:{config['server']['port']}").rstrip("/")


def invite_link(app: Flask, token: str) -> str:
    return f"{base_url(app)}/console/invite/{token}"


@click.group("users")
def users_group() -> None:
    """Console users: roles cso < staff < admin, each scoped to admin units."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="cso: digests and scorecards; staff: also meetings, broadcasts, complaints; admin: everything.")
@click.option("--unit", "units", multiple=True, help="Admin unit code the user sees (repeat for several); "
              "an admin without --unit sees the whole country.")
@click.option("--name", "display_name", help="The name shown in the console (default: the user name).")
@click.option("--org", "organisation", help="The user's organisation, e.g. 'Bayangol district office'.")
@click.option("--invite", is_flag=True, help="Print a one-time link where the user sets a password, instead of "
              "asking for one now.")
@with_app
def users_create(app: Flask, username: str, role: str, units: tuple[str, ...], display_name: str | None,
                 organisation: str | None, invite: bool) -> None:
    """Create a console user (the first admin: `gateway users create admin --role admin`)."""
    from gateway.console.auth import MIN_PASSWORD, hash_password, new_invite_token
    from storage import console as users
    from storage.access import cli_principal
    from storage.audit import record

    token = new_invite_token() if invite else None
    password_hash = None
    if not invite:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if len(password) < MIN_PASSWORD:
            raise click.ClickException(f"the password needs at least {MIN_PASSWORD} characters")
        password_hash = hash_password(password)
    try:
        user = users.create_user(username, display_name or username, role, list(units), organisation, password_hash,
                                 "cli", invite_token=token)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    record(cli_principal(), "user.create", f"user:{user.id}", f"role={role} scope={user.scope}")
    scope = ", ".join(units) if units else "the whole country"
    click.echo(f"user {user.username} ({role}, sees {scope}) created")
    if token:
        click.echo("send this one-time link to the user (valid 7 days):", err=True)
        click.echo(invite_link(app, token))
    else:
        click.echo(f"sign in at {base_url(app)}/console/")


@users_group.command("list")
@with_app
def users_list(app: Flask) -> None:
    """List users with role, area and last sign-in."""
    from gateway.broadcasts import to_local
    from storage import console as users

    for user in users.list_users():
        units = ",".join(users.unit_codes_of(user)) or "national"
        last = to_local(app, user.last_login_at).strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        state = "disabled" if user.disabled_at else ("invited" if not user.password_hash else "active")
        click.echo(f"{user.username:20} {user.role:5} {units:20} last sign-in {last:16} {state}")


def _user(username: str):
    from storage import console as users

    user = users.user_by_name(username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    return user


@users_group.command("invite")
@click.argument("username")
@with_app
def users_invite(app: Flask, username: str) -> None:
    """Print a new one-time link to set a password (the old password stops working when it is used)."""
    from gateway.console.auth import new_invite_token
    from storage import console as users

    user = _user(username)
    token = new_invite_token()
    users.reinvite(user, token)
    click.echo(invite_link(app, token))


@users_group.command("unlock")
@click.argument("username")
@with_app
def users_unlock(app: Flask, username: str) -> None:
    """Lift a lock after too many failed sign-ins."""
    from gateway.console.auth import unlock
    from storage.access import cli_principal
    from storage.audit import record

    user = _user(username)
    unlock(user.username)
    record(cli_principal(), "user.unlock", f"user:{user.id}")
    click.echo(f"{user.username} unlocked")


@users_group.command("disable")
@click.argument("username")
@with_app
def users_disable(app: Flask, username: str) -> None:
    """Disable a user: every session ends at once."""
    from storage import console as users
    from storage.access import cli_principal
    from storage.audit import record

    user = _user(username)
    users.set_disabled(user, True)
    record(cli_principal(), "user.disable", f"user:{user.id}")
    click.echo(f"{user.username} disabled")


@users_group.command("enable")
@click.argument("username")
@with_app
def users_enable(app: Flask, username: str) -> None:
    """Enable a disabled user again."""
    from storage import console as users
    from storage.access import cli_principal
    from storage.audit import record

    user = _user(username)
    users.set_disabled(user, False)
    record(cli_principal(), "user.enable", f"user:{user.id}")
    click.echo(f"{user.username} enabled")


commands = [users_group]
