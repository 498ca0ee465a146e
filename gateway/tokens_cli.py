"""`gateway tokens create|list|scope|revoke`: API tokens, stored hashed; the token itself is shown once.

Every token has a role, a scope (admin units, or national for an admin), an organisation and an expiry; every
change is recorded in the audit log.
"""
from __future__ import annotations

import click

from gateway.cli import with_app
from storage.access import ROLES, cli_principal
from storage.tokens import DEFAULT_DAYS, MAX_DAYS


@click.group("tokens")
def tokens_group() -> None:
    """API tokens: role (cso < staff < admin), scope of admin units, organisation, expiry."""


@tokens_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="cso: digests and aggregate exports; staff: "
              "also meetings, broadcasts, complaints; admin: also rounds, per-respondent rows, the restricted queue.")
@click.option("--name", required=True, help="Who holds it, e.g. 'CSO Khoroo 7'.")
@click.option("--scope", help="Admin-unit codes it may read, e.g. 'BGD-07' or 'BGD,ZVK' (a unit covers the units "
              "below it); 'national' for an admin only (the admin default).")
@click.option("--org", "organisation", help="The organisation it acts for, e.g. 'Ирээдүй ТББ'.")
@click.option("--days", default=DEFAULT_DAYS, show_default=True, type=click.IntRange(1, MAX_DAYS),
              help="Days until it expires.")
@with_app
def tokens_create(app, role: str, name: str, scope: str | None, organisation: str | None, days: int) -> None:
    """Create a token and print it once (it cannot be shown again)."""
    from storage.audit import record
    from storage.tokens import create_token

    try:
        token, plain = create_token(name.strip(), role, scope, organisation, days)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    record(cli_principal(), "token.create", f"token:{token.id}", f"role={role} scope={token.scope} days={days}")
    click.echo(f"token {token.id} for {token.name} ({role}, scope {token.scope}, expires "
               f"{token.expires_at:%Y-%m-%d}); copy it now, it is not shown again:", err=True)
    click.echo(plain)


@tokens_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked and expired tokens.")
@with_app
def tokens_list(app, show_all: bool) -> None:
    """List tokens with their role, scope, expiry and last use (never the token itself)."""
    from storage.db import utcnow
    from storage.tokens import list_tokens, principal_of

    now = utcnow()
    for t in list_tokens():
        expired = t.expires_at is None or t.expires_at <= now
        if (t.revoked_at or expired) and not show_all:
            continue
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}Z" if t.last_used_at else "never"
        state = (f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else
                 "expired" if expired else f"expires {t.expires_at:%Y-%m-%d}")
        org = principal_of(t).organisation or "-"
        click.echo(f"{t.id:4}  {t.role:5}  {t.name:30}  {t.scope or '(none)':16} {org:20} last used {used:18} {state}")


@tokens_group.command("scope")
@click.argument("token_id", type=int)
@click.argument("scope")
@with_app
def tokens_scope(app, token_id: int, scope: str) -> None:
    """Change what a token may read: admin-unit codes ('BGD-07,BGD-08'), or 'national' for an admin."""
    from storage.audit import record
    from storage.tokens import set_scope

    try:
        token = set_scope(token_id, scope)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    record(cli_principal(), "token.scope", f"token:{token_id}", f"scope={token.scope}")
    click.echo(f"token {token_id} now reads {token.scope}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_app
def tokens_revoke(app, token_id: int) -> None:
    """Revoke a token: it stops working at once."""
    from storage.audit import record
    from storage.tokens import revoke

    if not revoke(token_id):
        raise click.ClickException(f"no active token {token_id}")
    record(cli_principal(), "token.revoke", f"token:{token_id}")
    click.echo(f"token {token_id} revoked")


commands = [tokens_group]
