"""`gateway channels check` and `gateway outbox list|retry|cancel`."""
from __future__ import annotations

import click
from flask import Flask

from gateway import phone_pool
from gateway.channels.base import CHANNEL_CLASSES, get_channel, load_channel_class
from gateway.cli import with_app
from gateway.config import SECRET_ENV
from gateway.webhooks import webhook_urls as all_webhook_urls
from storage import outbox as store
from storage.contacts import number_of
from storage.phones import mask_phone, mask_phones_in

ENV_OF = {key: env for env, key in SECRET_ENV.items()}


@click.group("channels")
def channels_group() -> None:
    """SMS and USSD provider channels."""


@channels_group.command("check")
@click.option("--show-token", is_flag=True, help="Print the real AT_WEBHOOK_TOKEN in the URLs, not a placeholder.")
@with_app
def channels_check(app: Flask, show_token: bool) -> None:
    """Show each channel: configured, credentials, reachable, and the webhook URLs to paste."""
    problems = 0
    for name in CHANNEL_CLASSES:
        lines, bad = describe_channel(app, name, show_token)
        problems += bad
        click.echo("\n".join(lines) + "\n")
    if problems:
        raise click.ClickException(f"{problems} problem(s) found with enabled channels")


def describe_channel(app: Flask, name: str, show_token: bool = False) -> tuple[list[str], int]:
    cls = load_channel_class(name)
    channel = get_channel(app, name)
    lines = [f"{cls.display_name} ({name})"]
    if channel is None:
        return lines + ["  configured:  no (set channels." + name + ".enabled: true in config.yaml)"], 0
    problems = 0
    missing = channel.missing_secrets()
    lines.append("  configured:  yes" + ("" if channel.verifies else "  — WARNING: verify: false (development only)"))
    if missing:
        problems += 1
        names = ", ".join(ENV_OF.get(f"channels.{name}.{key}", key) for key in missing)
        lines.append(f"  credentials: MISSING {names}")
    else:
        lines.append("  credentials: present")
    if missing:
        lines.append("  reachable:   not checked (credentials missing)")
    else:
        lines.append(f"  reachable:   {_reachability(channel)}")
        problems += lines[-1].startswith("  reachable:   NO") or "NOT reachable" in lines[-1]  # a pool's phone
    if len(getattr(channel, "phones", ())) > 1:
        lines += pool_lines(app)
    lines.append("  webhook URLs to paste:")
    lines += [f"    {url}" for url in webhook_urls(app, name, show_token)]
    return lines, problems


def pool_lines(app: Flask) -> list[str]:
    """Each phone of the Android pool (from what the database knows) and how long the queued messages take."""
    lines = [f"  phones:      {'name':14} {'operator':9} {'rate/s':>6}  {'state':24} last seen"]
    for phone in phone_pool.describe(app):
        lines.append(f"               {phone['name']:14} {phone['operator']:9} {phone['rate_per_second']:>6g}  "
                     f"{phone['state']:24} {phone['last_seen'] or 'never'}")
    queued = phone_pool.queued_estimate(app)
    waiting = sum(phone["messages"] for phone in queued["phones"])
    lines.append(f"  queued:      {waiting} message(s), sent in about {phone_pool.duration(queued['eta_seconds'])} "
                 "at the phones' rates")
    return lines


def _reachability(channel) -> str:
    try:
        return channel.check()
    except Exception as exc:  # any SDK or network error is the answer to "is it reachable?"
        return f"NO ({type(exc).__name__}: {str(exc)[:120]})"


def webhook_urls(app: Flask, name: str, show_token: bool = False) -> list[str]:
    from gateway.serve import public_base

    return [f"{action:12} {url}" for channel, action, url in all_webhook_urls(app, public_base(app), show_token)
            if channel == name]


@click.group("outbox", invoke_without_command=True)
@click.pass_context
def outbox_group(ctx: click.Context) -> None:
    """Outgoing SMS: list queued and failed messages, retry or cancel them."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(outbox_list)


@outbox_group.command("list")
@click.option("--status", "statuses", multiple=True, default=("queued", "sending", "failed"), show_default=True,
              help="Statuses to list (repeat the option for several).")
@click.option("--limit", default=50, show_default=True, help="At most this many rows.")
@with_app
def outbox_list(app: Flask, statuses: tuple[str, ...], limit: int) -> None:
    """List outgoing messages by status, numbers masked."""
    rows = store.outbox_rows(list(statuses), limit)
    if not rows:
        click.echo(f"no {'/'.join(statuses)} messages")
        return
    click.echo(f"{'id':>6} {'status':9} {'channel':14} {'purpose':10} {'try':>3} {'to':14} {'next (UTC)':16} reason")
    for row in rows:
        due = f"{row.next_attempt_at:%Y-%m-%d %H:%M}" if row.next_attempt_at else "now"
        reason = mask_phones_in(row.last_error or "")[:60]  # masked when written; older rows masked here
        click.echo(f"{row.id:>6} {row.status:9} {row.channel:14} {row.purpose:10} {row.attempts:>3} "
                   f"{mask_phone(number_of(row.contact_id) or ''):14} {due:16} {reason}")


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed message.")
@with_app
def outbox_retry(app: Flask, ids: tuple[int, ...], all_failed: bool) -> None:
    """Queue failed or cancelled messages again, with a fresh attempt count."""
    chosen = list(ids) + ([row.id for row in store.outbox_rows(["failed"], 100_000)] if all_failed else [])
    if not chosen:
        raise click.UsageError("give message ids, or --all-failed")
    click.echo(f"queued again: {store.retry_now(chosen)} of {len(chosen)}")


@outbox_group.command("cancel")
@click.argument("ids", nargs=-1, type=int, required=True)
@with_app
def outbox_cancel(app: Flask, ids: tuple[int, ...]) -> None:
    """Cancel queued messages so they are never sent."""
    click.echo(f"cancelled: {store.cancel(list(ids))} of {len(ids)} (only queued messages can be cancelled)")


commands = [channels_group, outbox_group]
