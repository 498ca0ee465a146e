"""A person's rights and the keys: `gateway contacts forget|export|rekey`, `gateway audit list`, and `--token`.

Every command here is recorded in the audit log, never with the number. Read commands elsewhere take
`as_principal`: `--token` (or GATEWAY_TOKEN) runs them with that token's role and scope instead of the operator's.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask

from gateway.cli import with_app
from gateway.meetings_cli import contacts_group
from storage.access import Principal, cli_principal


def as_principal(func: Callable) -> Callable:
    """Give a `with_app` command a `principal` argument (after `app`): the operator, or the `--token` holder."""
    @click.option("--token", "token", envvar="GATEWAY_TOKEN", metavar="TOKEN",
                  help="Act as this API token, with its role and scope (default: the operator, admin, national).")
    @functools.wraps(func)
    def wrapper(app: Flask, *args, token: str | None = None, **kwargs):
        return func(app, principal_for(token), *args, **kwargs)
    return wrapper


def principal_for(token: str | None) -> Principal:
    from storage.tokens import principal_of, token_for

    if not token:
        return cli_principal()
    found = token_for(token.strip())
    if found is None:
        raise click.ClickException("the token is unknown, revoked or expired")
    return principal_of(found)


def _number(app: Flask, raw: str) -> str:
    from gateway.phones import InvalidPhoneNumber, normalize_phone

    try:
        return normalize_phone(raw, app.config["GATEWAY"]["default_region"])
    except InvalidPhoneNumber as exc:
        raise click.ClickException(str(exc)) from None


def _person(app: Flask, raw: str):
    from storage.contacts import contact_by_number

    contact = contact_by_number(_number(app, raw))
    if contact is None:
        raise click.ClickException("no one with that number is held (nothing to do)")
    return contact


# ---- the person's rights ----------------------------------------------------------------------------------------


@contacts_group.command("forget")
@click.argument("number")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
def contacts_forget(app: Flask, number: str, yes: bool) -> None:
    """Erase a person on request: number, messages, free texts and conversations (counts in reports stay)."""
    from storage.audit import record
    from storage.people import forget

    contact = _person(app, number)
    if not yes:
        click.confirm("Энэ хүний дугаар, мессеж, бичсэн текстийг бүрмөсөн устгах уу? / Erase this person's number, "
                      "messages and texts for good?", abort=True)
    counts = forget(contact)
    record(cli_principal(), "contact.forget", f"contact:{contact.id}",
           ", ".join(f"{k}={v}" for k, v in counts.items()))
    click.echo(f"Устгасан / erased: contact {contact.id}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))


@contacts_group.command("export")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of the readable text.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout.")
@with_app
def contacts_export(app: Flask, number: str, as_json: bool, out: str | None) -> None:
    """A copy of everything held about a person, in Mongolian and English, to give them on request."""
    from storage.audit import record
    from storage.people import held_about

    contact = _person(app, number)
    held = _masked(held_about(contact))
    record(cli_principal(), "contact.export", f"contact:{contact.id}")
    body = json.dumps(held, ensure_ascii=False, indent=2, default=str) + "\n" if as_json else render_copy(app, held)
    if out:
        Path(out).write_text(body, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(body, nl=False)


def _masked(value):
    """Numbers written inside texts are masked even in the person's own copy: the copy may be forwarded."""
    from storage.phones import mask_free_text

    if isinstance(value, str):
        return mask_free_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


SECTIONS = [
    ("messages", "Мессежүүд", "Messages", lambda r: f"{r['at']}  {r['direction']:3} {r['channel']}: {r['text']}"),
    ("conversations", "Харилцан яриа", "Conversations",
     lambda r: f"{r['started_at']}  {r['flow']} ({r['status']}): "
               + "; ".join(f"{a['name']}={a['value']}" for a in r["answers"])),
    ("complaints", "Гомдол", "Complaints",
     lambda r: f"{r['created_at']}  {r['ref']} {r['category']} ({r['status']}): {r['text']}"
               + (f" [{r['landmark']}]" if r["landmark"] else "")),
    ("scores", "Үнэлгээний оноо", "Scorecard scores",
     lambda r: f"{r['at']}  round {r['round']}, {r['indicator']}: {r['score']}"),
    ("groups_declared", "Өөрийн бүлэг", "Group you declared", lambda r: f"round {r['round']}: {r['group']}"),
    ("reasons", "Тайлбар", "Reasons", lambda r: f"{r['at']}  round {r['round']}: {r['text']}"),
    ("meeting_answers", "Уулзалтын хариу", "Meeting answers",
     lambda r: f"{r['at']}  meeting {r['meeting']}: {r['answer']}"),
    ("meeting_questions", "Уулзалтын асуулт", "Meeting questions",
     lambda r: f"{r['at']}  meeting {r['meeting']}: {r['text']}"),
    ("digest_subscriptions", "Тойм захиалга", "Digest subscriptions", lambda r: f"{r['label']} (active {r['active']})"),
]


def render_copy(app: Flask, held: dict) -> str:
    """The person's copy as readable text: Mongolian first, English second; times in UTC as stored."""
    contact = held["contact"]
    lines = ["Таны тухай хадгалсан мэдээлэл / What is held about you",
             f"Бэлтгэсэн / Prepared: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. "
             "Хуулийн үндэслэл: Хүний хувийн мэдээлэл хамгаалах тухай хууль (2021) / "
             "Under Mongolia's Personal Data Protection Law (2021).",
             "Таны утасны дугаарыг тусад нь хадгалдаг; албан тушаалтнууд хэзээ ч харахгүй. / Your number is kept "
             "apart and never shown to officials.", "",
             "Бүртгэл / Record:"]
    lines += [f"  {key}: {value}" for key, value in contact.items()]
    for key, mn, en, line in SECTIONS:
        rows = held[key]
        lines += ["", f"{mn} / {en} ({len(rows)}):"] + [f"  {line(row)}" for row in rows]
        if not rows:
            lines.append("  – байхгүй / none")
    lines += ["", "Устгуулах хүсэлт / To have this erased: ask the organisation that runs this service "
              "(gateway contacts forget)."]
    return "\n".join(lines) + "\n"


# ---- the pseudonymisation key -------------------------------------------------------------------------------------


@contacts_group.command("rekey")
@click.option("--new-key-file", type=click.Path(exists=True, dir_okay=False),
              help="Take the new key from this file (default: generate one).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
def contacts_rekey(app: Flask, new_key_file: str | None, yes: bool) -> None:
    """Move every contact to a new pseudonymisation key, losing no one. Stop the service first."""
    from gateway.secrets import BACKUP_ADVICE, key_file, new_key, write_key
    from storage.audit import record
    from storage.contacts import rekey

    config = app.config["GATEWAY"]
    key = Path(new_key_file).read_text().strip() if new_key_file else new_key()
    if len(key) < 32:
        raise click.ClickException("the new key must be at least 32 characters")
    if not yes:
        click.confirm("Stop the service (gateway serve) before re-keying. Continue?", abort=True)
    path = key_file(config)
    pending = path.with_suffix(".new")
    write_key(pending, key)  # first: a crash after the database moved still leaves the key on disk
    moved = rekey(key)
    record(cli_principal(), "contacts.rekey", None, f"contacts={moved}")
    if config["pseudonym_key_from"] == "file":
        pending.replace(path)
        click.echo(f"moved {moved} contacts to the new key in {path}. {BACKUP_ADVICE}")
    else:
        click.echo(f"moved {moved} contacts to the new key. Now set GATEWAY_PSEUDONYM_KEY to the contents of "
                   f"{pending}, start the service, and delete that file once it is backed up.")


# ---- the audit log ------------------------------------------------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """The audit log: who read or changed what (never a number or a message text)."""


@audit_group.command("list")
@click.option("--action", help="Actions starting with this, e.g. 'export' or 'contact.forget'.")
@click.option("--actor", help="Actors containing this, e.g. a token name or 'cli'.")
@click.option("--target", help="Targets containing this, e.g. 'complaint:G-0412'.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this local date.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Up to and including this local date.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_app
def audit_list(app: Flask, action, actor, target, since, until, limit: int, as_json: bool) -> None:
    """List audit entries, newest first, in local time."""
    from gateway.clock import day_start_utc, in_zone, local_zone
    from storage.audit import entries

    zone = local_zone(app)
    rows = entries(action=action, actor=actor, target=target, limit=limit,
                   since=day_start_utc(zone, since.date()) if since else None,
                   until=day_start_utc(zone, until.date() + dt.timedelta(days=1)) if until else None)
    for row in rows:
        at = in_zone(zone, row.at)
        if as_json:
            click.echo(json.dumps({"at": at.isoformat(), "actor": row.actor, "role": row.role,
                                   "organisation": row.organisation, "action": row.action, "target": row.target,
                                   "detail": row.detail}, ensure_ascii=False))
        else:
            click.echo(f"{at:%Y-%m-%d %H:%M}  {row.action:26} {row.target or '-':22} {row.actor}"
                       + (f"  ({row.detail})" if row.detail else ""))


commands = [audit_group, contacts_group]  # contacts: import is in meetings_cli, the rest here
