"""`gateway tokens create|list|revoke`: API tokens, stored hashed; the token itself is shown once."""
from __future__ import annotations

import click

from gateway.cli import with_app
from storage.tokens import ROLES


@click.group("tokens")
def tokens_group() -> None:
    """API tokens and their roles (cso < staff < admin)."""


@tokens_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="cso: digests and exports; staff: also "
              "meetings, broadcasts, complaints; admin: also rounds, flows and tokens.")
@click.option("--name", required=True, help="Who holds it, e.g. 'CSO Khoroo 7'.")
@with_app
def tokens_create(app, role: str, name: str) -> None:
    """Create a token and print it once (it cannot be shown again)."""
    from storage.tokens import create_token

    token, plain = create_token(name.strip(), role)
    click.echo(f"token {token.id} for {token.name} ({role}); copy it now, it is not shown again:", err=True)
    click.echo(plain)


@tokens_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked tokens.")
@with_app
def tokens_list(app, show_all: bool) -> None:
    """List tokens with their role and last use (never the token itself)."""
    from storage.tokens import list_tokens

    for t in list_tokens():
        if t.revoked_at and not show_all:
            continue
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}Z" if t.last_used_at else "never"
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        click.echo(f"{t.id:4}  {t.role:5}  {t.name:30}  last used {used:18} {state}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_app
def tokens_revoke(app, token_id: int) -> None:
    """Revoke a token: it stops working at once."""
    from storage.tokens import revoke

    if not revoke(token_id):
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


commands = [tokens_group]
