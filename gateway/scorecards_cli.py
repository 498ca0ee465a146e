"""`gateway rounds|complaints|digest|digest-subscribers|export`: scorecard rounds, complaints and CSO outputs."""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path

import click
from ruamel.yaml.error import YAMLError

from gateway import clock
from gateway.cli import with_app
from gateway.config import load_yaml
from gateway.privacy_cli import as_principal
from storage.access import cli_principal


def _fail(message: str) -> None:
    raise click.ClickException(message)


def load_indicators(path: str) -> list[dict]:
    """Indicators from YAML (a list, or {indicators: [...]}) or CSV (columns code,mn,en[,latn,provider_score])."""
    text = Path(path).read_text(encoding="utf-8-sig")
    if path.lower().endswith(".csv"):
        rows = [dict(row) for row in csv.DictReader(text.splitlines())]
    else:
        try:
            data = load_yaml(text)
        except YAMLError as exc:
            _fail(f"{path}: not valid YAML: {exc}".replace("\n", " "))
        rows = data.get("indicators") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows:
        _fail(f"{path}: expected a list of indicators with code, mn and en")
    for number, row in enumerate(rows, 1):
        missing = [k for k in ("code", "mn", "en") if not isinstance(row, dict) or not str(row.get(k) or "").strip()]
        if missing:
            _fail(f"{path}: indicator {number} is missing {', '.join(missing)}")
    return [{k: (str(v).strip() if k != "provider_score" else v) for k, v in row.items() if v not in (None, "")}
            for row in rows]


# --- rounds ------------------------------------------------------------------------------------------------


@click.group("rounds")
def rounds_group() -> None:
    """Scorecard rounds: create, open, close, show, action items."""


@rounds_group.command("create")
@click.option("--service-point", "sp_code", required=True, help="Service point code (created if --unit etc. given).")
@click.option("--indicators", "indicator_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="YAML or CSV file of indicators (code, mn, en, latn, provider_score).")
@click.option("--unit", help="Admin unit code, to create a new service point.")
@click.option("--kind", help="Service point kind (kindergarten, school, health_centre, water_kiosk…).")
@click.option("--name-mn", help="Service point name in Mongolian.")
@click.option("--name-en", help="Service point name in English.")
@click.option("--min-cell", default=5, show_default=True, type=click.IntRange(min=1), help="Smallest reported cell.")
@click.option("--opens-on", type=click.DateTime(["%Y-%m-%d"]), help="Planned opening date.")
@click.option("--closes-on", type=click.DateTime(["%Y-%m-%d"]), help="Planned closing date.")
@click.option("--meeting-at", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
              help="Interface meeting, local time.")
@click.option("--meeting-place-mn", help="Where the interface meeting is held (Mongolian).")
@click.option("--meeting-place-en", help="Where the interface meeting is held (English).")
@with_app
def rounds_create(app, sp_code, indicator_file, unit, kind, name_mn, name_en, min_cell, opens_on, closes_on,
                  meeting_at, meeting_place_mn, meeting_place_en) -> None:
    """Create a draft round for a service point, with indicators from a YAML or CSV file."""
    from storage import scorecards as store

    indicators = load_indicators(indicator_file)
    try:
        point = store.service_point(sp_code, admin_unit_code=unit, kind=kind, name_mn=name_mn, name_en=name_en)
        round_ = store.create_round(
            point, indicators, min_cell=min_cell, opens_on=opens_on.date() if opens_on else None,
            closes_on=closes_on.date() if closes_on else None, meeting_at=_utc(app, meeting_at),
            meeting_place_mn=meeting_place_mn, meeting_place_en=meeting_place_en)
    except store.RoundError as exc:
        _fail(str(exc))
    click.echo(f"created round {round_.id}: {point.code} round {round_.number} ({len(indicators)} indicators, draft)")


def _utc(app, local: dt.datetime | None) -> dt.datetime | None:
    if local is None:
        return None
    return clock.to_utc(app, local)


def _status_command(name: str, status: str, doc: str):
    @rounds_group.command(name, help=doc)
    @click.argument("round_id", type=int)
    @with_app
    def command(app, round_id: int) -> None:
        from storage import scorecards as store

        round_ = store.Round.get_or_none(store.Round.id == round_id) or _fail(f"no round {round_id}")
        try:
            store.set_status(round_, status)
        except store.RoundError as exc:
            _fail(str(exc))
        click.echo(f"round {round_id} is {status}")
    return command


_status_command("open", "open", "Open a round for scoring.")
_status_command("close", "closed", "Close a round: no more scores are accepted.")


@rounds_group.command("show")
@click.argument("round_id", type=int, required=False)
@with_app
def rounds_show(app, round_id: int | None) -> None:
    """Show one round as JSON, or list all rounds."""
    from storage import scorecards as store

    if round_id is None:
        for r in store.list_rounds():
            click.echo(f"{r.id:5}  {r.status:6}  {r.service_point.code:12} round {r.number}")
        return
    round_ = store.Round.get_or_none(store.Round.id == round_id) or _fail(f"no round {round_id}")
    click.echo(json.dumps(store.round_summary(round_), ensure_ascii=False, indent=2))


@rounds_group.command("action")
@click.argument("round_id", type=int)
@click.option("--action", "text", required=True, help="What was agreed at the interface meeting.")
@click.option("--owner-role", required=True, help="Who is responsible, e.g. 'head teacher'.")
@click.option("--owner-org", required=True, help="Their organisation, e.g. 'Kindergarten 16'.")
@click.option("--due-on", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Due date.")
@click.option("--indicator", help="The indicator code it answers (A, B…).")
@with_app
def rounds_action(app, round_id: int, text: str, owner_role: str, owner_org: str, due_on, indicator) -> None:
    """Add an action item agreed at the interface meeting."""
    from storage import scorecards as store

    round_ = store.Round.get_or_none(store.Round.id == round_id) or _fail(f"no round {round_id}")
    item = store.add_action_item(round_, text, owner_role, owner_org, due_on.date(), indicator)
    click.echo(f"action item {item.id} due {item.due_on:%Y-%m-%d}")


@rounds_group.command("action-status")
@click.argument("item_id", type=int)
@click.argument("status", type=click.Choice(["planned", "in_progress", "done", "dropped"]))
@click.option("--note", help="What happened.")
@click.option("--actor", default="cli", show_default=True, help="Who reports it.")
@with_app
def rounds_action_status(app, item_id: int, status: str, note: str | None, actor: str) -> None:
    """Record progress on an action item."""
    from storage import scorecards as store

    item = store.ActionItem.get_or_none(store.ActionItem.id == item_id) or _fail(f"no action item {item_id}")
    store.update_action_item(item, status, note, actor)
    click.echo(f"action item {item_id} is {status}")


# --- complaints --------------------------------------------------------------------------------------------


@click.group("complaints")
def complaints_group() -> None:
    """Complaints: list, show, set-status (numbers are never shown)."""


@complaints_group.command("list")
@click.option("--status", type=click.Choice(["new", "routed", "answered", "resolved", "closed"]))
@click.option("--sensitive", is_flag=True, help="Show the restricted queue (sensitive complaints) instead.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@with_app
@as_principal
def complaints_list(app, principal, status, sensitive, limit) -> None:
    """List complaints, newest first (within the scope of --token, if given)."""
    from storage import complaints as store
    from storage.audit import record

    readers = app.config["GATEWAY"]["complaints"]["restricted_readers"]
    if sensitive and not store.reads_restricted(principal, readers):
        _fail("restricted queue: admins and designated CSO accounts only")
    if not sensitive and not principal.at_least("staff"):
        _fail("listing complaints needs the 'staff' role")
    rows = store.list_complaints(status=status, sensitive_only=sensitive, limit=limit, scope=principal.scope,
                                 include_sensitive=principal.at_least("admin"))
    if sensitive:
        record(principal, "complaints.restricted_list", None)
    for c in rows:
        view = store.complaint_view(c, with_text=False)
        flags = "".join(f for f, on in (("!", view["overdue"]), ("F", c.flagged), ("S", c.sensitive)) if on)
        click.echo(f"{c.ref}  {c.status:8} {c.category:8} {view['admin_unit'] or '-':10} "
                   f"{c.created_at:%Y-%m-%d}  {flags}")


@complaints_group.command("show")
@click.argument("ref")
@with_app
@as_principal
def complaints_show(app, principal, ref: str) -> None:
    """Show one complaint with its history (its text is read: recorded in the audit log)."""
    from storage import complaints as store
    from storage.audit import record

    complaint = store.find(ref)
    if not store.visible_to(complaint, principal, app.config["GATEWAY"]["complaints"]["restricted_readers"]):
        _fail(f"no complaint {ref[:20]} that you can see")
    record(principal, "complaint.restricted_read" if complaint.sensitive else "complaint.read",
           f"complaint:{complaint.ref}")
    click.echo(json.dumps(store.complaint_view(complaint), ensure_ascii=False, indent=2))


@complaints_group.command("set-status")
@click.argument("ref")
@click.argument("status", type=click.Choice(["routed", "answered", "resolved", "closed"]))
@click.option("--note", default=None, help="What was done (quoted to the citizen on 'resolved').")
@click.option("--actor", default="cli", show_default=True, help="Who made the change.")
@with_app
def complaints_set_status(app, ref: str, status: str, note: str | None, actor: str) -> None:
    """Change a complaint's status with a note; 'resolved' asks the citizen if it is solved."""
    from gateway.complaints import change_status
    from storage import complaints as store
    from storage.audit import record

    complaint = store.find(ref) or _fail(f"no complaint {ref}")
    previous = complaint.status
    try:
        asked = change_status(app, complaint, status, note, actor)
    except store.ComplaintError as exc:
        _fail(str(exc))
    record(cli_principal(actor), "complaint.status", f"complaint:{complaint.ref}", f"{previous} -> {status}")
    click.echo(f"{complaint.ref} is {status}" + (" (citizen asked if it is solved)" if asked else ""))


# --- digests and exports -------------------------------------------------------------------------------------


@click.command("digest")
@click.option("--week", help="ISO week, e.g. 2026-W47 (default: last complete week).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "html", "sms"]), default="json", show_default=True)
@click.option("--unit", help="Only this admin unit and the units below it.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout.")
@with_app
@as_principal
def digest(app, principal, week: str | None, fmt: str, unit: str | None, out: str | None) -> None:
    """Build the weekly CSO digest (JSON, CSV, HTML or SMS): aggregates only."""
    from gateway import digests
    from storage.access import unit_in_scope
    from storage.audit import record

    try:
        the_week = digests.week_of(app, week)
    except ValueError as exc:
        _fail(str(exc))
    if unit and not unit_in_scope(unit, principal.scope):
        _fail(f"no admin unit with code {unit!r} in scope {principal.scope}")
    data = digests.build(app, the_week, unit, principal.scope)
    record(principal, "digest.read", f"{the_week.label}.{fmt}" + (f" unit={unit}" if unit else ""))
    body = {"json": lambda d: json.dumps(d, ensure_ascii=False, indent=2) + "\n", "csv": digests.render_csv,
            "html": lambda d: digests.render_html(app, d), "sms": lambda d: digests.render_sms(d) + "\n"}[fmt](data)
    _write(body, out)


def _write(body: str, out: str | None) -> None:
    if out:
        Path(out).write_text(body, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        sys.stdout.write(body)


@click.group("digest-subscribers")
def subscribers_group() -> None:
    """CSO focal points who get the weekly SMS summary."""


@subscribers_group.command("add")
@click.argument("phone")
@click.option("--label", required=True, help="Organisation and role, e.g. 'CSO Khoroo 7 focal point'.")
@click.option("--unit", help="Only this admin unit's digest (default: everything).")
@with_app
def subscribers_add(app, phone: str, label: str, unit: str | None) -> None:
    """Subscribe a phone number to the weekly SMS summary."""
    from gateway.phones import InvalidPhoneNumber, normalize_phone
    from gateway.secrets import pseudonym_key
    from storage import digests as store
    from storage.contacts import contact_for_number, opt_in
    from storage.models import AdminUnit
    from storage.phones import mask_phone

    config = app.config["GATEWAY"]
    try:
        e164 = normalize_phone(phone, config["default_region"])
    except InvalidPhoneNumber as exc:
        _fail(str(exc))
    admin_unit = AdminUnit.get_or_none(AdminUnit.code == unit) if unit else None
    if unit and admin_unit is None:
        _fail(f"no admin unit with code {unit!r}")
    contact, _ = contact_for_number(e164, pseudonym_key(app))
    if contact.consent_at is None:
        opt_in(contact, config["consent"]["version"], "import")
    subscriber = store.subscribe(contact, label, admin_unit)
    click.echo(f"subscriber {subscriber.id}: {label} ({mask_phone(e164)})")


@subscribers_group.command("list")
@with_app
def subscribers_list(app) -> None:
    """List active subscribers (numbers are not shown)."""
    from storage import digests as store

    for s in store.active_subscribers():
        click.echo(f"{s.id:4}  {s.label}  {s.admin_unit.code if s.admin_unit_id else '(all units)'}")


@subscribers_group.command("remove")
@click.argument("subscriber_id", type=int)
@with_app
def subscribers_remove(app, subscriber_id: int) -> None:
    """Stop sending the weekly summary to a subscriber."""
    from storage import digests as store

    if not store.unsubscribe(subscriber_id):
        _fail(f"no subscriber {subscriber_id}")
    click.echo(f"subscriber {subscriber_id} removed")


@click.group("export")
def export_group() -> None:
    """Stream results as CSV: released counts, or rows for admins; no numbers."""


def _range(app, since: dt.datetime | None, until: dt.datetime | None):
    end = until + dt.timedelta(days=1) if until else None
    return _utc(app, since), _utc(app, end)


@export_group.command("round")
@click.argument("round_id", type=int)
@click.option("--responses", is_flag=True, help="One row per score instead of the released cells (admin; audited).")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), help="First local date (--responses only).")
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), help="Last local date to include.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout.")
@with_app
@as_principal
def export_round(app, principal, round_id: int, responses: bool, since, until, out) -> None:
    """Export a round as CSV: released cells (indicator × group), or with --responses one row per score."""
    from storage import exports
    from storage.audit import record
    from storage.scorecards import Round

    round_ = Round.get_or_none(Round.id == round_id)
    if round_ is None or not principal.covers(round_.service_point.admin_unit_id):
        _fail(f"no round {round_id} in scope {principal.scope}")
    start, end = _range(app, since, until)
    if responses:
        _need_admin(principal)
        record(principal, "export.rows", f"round:{round_id}", _dates(since, until))
        local_date = clock.local_date_function(app.config["GATEWAY"]["timezone"])
        return _stream(exports.ROUND_COLUMNS, exports.round_rows(round_id, start, end, local_date), out)
    _no_window(since)
    record(principal, "export.round", f"round:{round_id}", _dates(since, until))
    _stream(exports.ROUND_AGGREGATE_COLUMNS, exports.round_aggregate_rows(round_id, end), out)


@export_group.command("flow")
@click.argument("flow_id")
@click.option("--runs", is_flag=True, help="One row per saved answer instead of the counts (admin; audited).")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), help="First local date (--runs only).")
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), help="Last local date to include.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout.")
@with_app
@as_principal
def export_flow(app, principal, flow_id: str, runs: bool, since, until, out) -> None:
    """Export a flow as CSV: how many gave each answer, or with --runs one row per answer (free text withheld)."""
    from storage import exports
    from storage.access import scope_unit_ids
    from storage.audit import record

    start, end = _range(app, since, until)
    unit_ids = scope_unit_ids(principal.scope)
    if runs:
        _need_admin(principal)
        record(principal, "export.rows", f"flow:{flow_id}", _dates(since, until))
        local_date = clock.local_date_function(app.config["GATEWAY"]["timezone"])
        return _stream(exports.FLOW_COLUMNS, exports.flow_rows(flow_id, start, end, local_date, unit_ids), out)
    _no_window(since)
    record(principal, "export.flow", f"flow:{flow_id}", _dates(since, until))
    _stream(exports.FLOW_AGGREGATE_COLUMNS, exports.flow_aggregate_rows(flow_id, end, unit_ids), out)


def _need_admin(principal) -> None:
    if not principal.at_least("admin"):
        _fail("one row per person needs the 'admin' role")


def _no_window(since) -> None:
    if since:
        _fail("released counts are cumulative: give only --to (two overlapping windows could single people out)")


def _dates(since, until) -> str | None:
    parts = [f"from={since:%Y-%m-%d}" if since else "", f"to={until:%Y-%m-%d}" if until else ""]
    return " ".join(p for p in parts if p) or None


def _stream(columns, rows, out: str | None) -> None:
    from gateway.digests import csv_lines

    handle = open(out, "w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        for line in csv_lines(columns, rows):
            handle.write(line)
    finally:
        if out:
            handle.close()


commands = [rounds_group, complaints_group, digest, subscribers_group, export_group]
