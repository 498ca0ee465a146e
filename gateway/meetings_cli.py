"""`gateway meetings …`, `gateway broadcast`, `gateway broadcasts …` and `gateway contacts import`."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask import Flask

from gateway import broadcasts as bc
from gateway import meetings, phone_pool
from gateway.cli import with_app
from storage import meetings as store
from storage.access import cli_principal
from storage.audit import record
from storage.db import database, utcnow
from storage.phones import mask_free_text

FINAL = ("delivered", "failed", "cancelled")


def _time(app: Flask, value: str | None):
    return None if value is None else bc.parse_time(app, value)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def echo_preview(app: Flask, view: bc.Preview) -> None:
    data = view.as_dict(app)
    click.echo(f"recipients: {data['recipients']}   send at: {data['send_at']}"
               + (f"   (quiet hours: held until {data['held_until']})" if data["held_until"] else ""))
    for v in data["variants"]:
        if v["recipients"]:
            people = "person" if v["recipients"] == 1 else "people"
            click.echo(f"\n[{v['variant']}] {v['recipients']} {people} · {v['encoding']} · "
                       f"{v['segments_per_message']} segment(s) each · {v['segments_total']} in total")
            click.echo(f"  {v['text']}")
    unit = f"{data['currency']} at {data['price_per_segment']:g}/segment on {data['channel']}"
    click.echo(f"\ncost as planned: {data['as_is']['segments']} segments ≈ {data['as_is']['cost']:g} {unit}")
    click.echo(f"cost all-Latin:  {data['latin']['segments']} segments ≈ {data['latin']['cost']:g} {unit}"
               "   (--latin)")
    if data["sending"]:
        echo_sending(data["sending"])


def echo_sending(sending: dict) -> None:
    """The Android pool's share of the send: recipients per operator, each phone's part, the expected time."""
    operators = ", ".join(f"{name if name != 'None' else 'other'} {n}"
                          for name, n in sending["recipients_by_operator"].items())
    click.echo(f"\nrecipients by operator: {operators}")
    for phone in sending["phones"]:
        click.echo(f"  phone {phone['name']:14} {phone['operator'] or '-':9} {phone['messages']:>7} messages at "
                   f"{phone['rate_per_second']:g}/s ≈ {phone_pool.duration(phone['seconds'])}")
    click.echo(f"expected time to send: about {phone_pool.duration(sending['eta_seconds'])}")


def enqueue_with_bar(app: Flask, broadcast: store.Broadcast) -> int | None:
    span = store.audience_id_range(broadcast.audience)
    total = (span[1] - span[0] + 1) if span else 0
    with click.progressbar(length=total, label=f"queuing broadcast {broadcast.id}") as bar:
        return bc.enqueue(app, broadcast, progress=bar.update)


def watch_sending(app: Flask, broadcast: store.Broadcast, poll: float = 1.0) -> dict:
    """Follow the outbox (sent by the running service) with a progress bar until nothing is left to send."""
    counts = store.status_counts([broadcast.origin])
    total = sum(counts.values())
    with click.progressbar(length=total, label="sending") as bar:
        done = 0
        while True:
            counts = store.status_counts([broadcast.origin])
            now_done = sum(counts.get(s, 0) for s in FINAL + ("sent",))
            bar.update(now_done - done)
            done = now_done
            if done >= total:
                return counts
            database.close()  # see the service's commits
            time.sleep(poll)


def echo_summary(app: Flask, broadcast: store.Broadcast) -> None:
    summary = bc.broadcast_summary(app, store.get_broadcast(broadcast.id))
    counts = ", ".join(f"{k} {v}" for k, v in summary["messages"].items() if v)
    click.echo(f"broadcast {summary['id']}: {summary['status']}, {summary['recipients']} recipients"
               + (f" ({counts})" if counts else "") + (f"; note: {summary['note']}" if summary["note"] else ""))


# ---- gateway broadcast / broadcasts ------------------------------------------------------------------------


@click.command("broadcast")
@click.option("--to", "audience", multiple=True, required=True,
              help="Audience: khoroo:<code>, district:<code>, soum:<code>, bag:<code>, group:<name>, round:<id>.")
@click.option("--text-file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The Mongolian text (UTF-8).")
@click.option("--text-en-file", type=click.Path(exists=True, dir_okay=False), help="The English text (UTF-8).")
@click.option("--at", "at", help="Send time, local: 2026-11-25 18:00 (default: now).")
@click.option("--latin", is_flag=True, help="Send Mongolian in Latin letters (GSM-7, cheaper).")
@click.option("--dry-run", is_flag=True, help="Show the preview and queue nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--wait", is_flag=True, help="Follow the sending until it is done.")
@with_app
def broadcast_command(app: Flask, audience, text_file, text_en_file, at, latin, dry_run, yes, wait) -> None:
    """Preview, then queue a message to an audience (now or at --at)."""
    text_mn = Path(text_file).read_text(encoding="utf-8").strip()
    text_en = Path(text_en_file).read_text(encoding="utf-8").strip() if text_en_file else None
    try:
        cleaned, texts, when = bc.plan_broadcast(app, list(audience), text_mn, text_en, _time(app, at), latin)
    except bc.BroadcastError as exc:
        raise _fail(exc) from None
    echo_preview(app, bc.preview(app, cleaned, texts, latin, when))
    if dry_run:
        click.echo("\ndry run: nothing was queued")
        return
    if not yes:
        click.confirm("\nqueue this broadcast?", abort=True)
    broadcast = bc.create_broadcast(cleaned, texts, when, latin, "cli")
    if when <= utcnow():
        enqueue_with_bar(app, broadcast)
        if wait:
            watch_sending(app, broadcast)
    else:
        click.echo(f"scheduled for {bc.to_local(app, when):%Y-%m-%d %H:%M}; the running service sends it")
    echo_summary(app, broadcast)


@click.group("broadcasts")
def broadcasts_group() -> None:
    """List broadcasts and follow their progress."""


@broadcasts_group.command("list")
@click.option("--limit", default=20, show_default=True)
@with_app
def broadcasts_list(app: Flask, limit: int) -> None:
    """List the latest broadcasts with their status."""
    for broadcast in store.latest_broadcasts(limit):
        click.echo(f"{broadcast.id:>5}  {bc.to_local(app, broadcast.send_at):%Y-%m-%d %H:%M}  {broadcast.purpose:12} "
                   f"{broadcast.status:10} {broadcast.recipients:>7}  {','.join(broadcast.audience)}")


@broadcasts_group.command("show")
@click.argument("broadcast_id", type=int)
@click.option("--wait", is_flag=True, help="Follow the sending until it is done.")
@with_app
def broadcasts_show(app: Flask, broadcast_id: int, wait: bool) -> None:
    """Show one broadcast's progress: messages by status."""
    broadcast = store.get_broadcast(broadcast_id)
    if broadcast is None:
        raise click.ClickException(f"no broadcast {broadcast_id}")
    if wait:
        watch_sending(app, broadcast)
    echo_summary(app, broadcast)


# ---- gateway meetings ------------------------------------------------------------------------------------------


@click.group("meetings")
def meetings_group() -> None:
    """Announce meetings: notice, reminders, moves, cancellations, RSVP tallies."""


@meetings_group.command("add")
@click.option("--title-mn", required=True, help="Title in Mongolian.")
@click.option("--title-en", help="Title in English.")
@click.option("--place-mn", default="", help="Place in Mongolian (required).")
@click.option("--place-en", help="Place in English.")
@click.option("--at", "at", required=True, help="Start, local time: 2026-11-26 18:00.")
@click.option("--to", "audience", multiple=True, required=True, help="Audience, as for `gateway broadcast`.")
@click.option("--kind", type=click.Choice(meetings.KINDS), default="inh", show_default=True)
@click.option("--reminders", help="Minutes before the start, comma-separated (default from config: 4320,120).")
@click.option("--notice-at", help="Send the notice at this local time instead of now.")
@click.option("--latin", is_flag=True, help="Send Mongolian in Latin letters.")
@click.option("--dry-run", is_flag=True, help="Preview the notice and save nothing.")
@with_app
def meetings_add(app: Flask, title_mn, title_en, place_mn, place_en, at, audience, kind, reminders, notice_at,
                 latin, dry_run) -> None:
    """Create a meeting; its notice goes now (or at --notice-at) and reminders are planned."""
    try:
        minutes = [int(m) for m in reminders.split(",")] if reminders else None
    except ValueError:
        raise click.ClickException("--reminders must be whole minutes separated by commas, e.g. 4320,120") from None
    try:
        fields = dict(kind=kind, title_mn=title_mn, title_en=title_en, place_mn=place_mn, place_en=place_en,
                      starts_at=_time(app, at), audience=list(audience), reminder_minutes=minutes,
                      notice_at=_time(app, notice_at), latin=latin)
        if dry_run:
            clean = meetings.check_meeting(app, fields)
            texts = meetings.preview_texts(app, clean, "notice")
            echo_preview(app, bc.preview(app, clean["audience"], texts, latin, fields["notice_at"] or utcnow()))
            click.echo("\ndry run: nothing was saved or queued")
            return
        meeting = meetings.create_meeting(app, **fields)
    except bc.BroadcastError as exc:
        raise _fail(exc) from None
    _echo_meeting(app, meeting)


@meetings_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include past and cancelled meetings.")
@with_app
def meetings_list(app: Flask, show_all: bool) -> None:
    """List upcoming meetings with their RSVP tally."""
    for meeting in store.meetings_list(utcnow(), show_all):
        tally = store.meeting_tally(meeting)
        click.echo(f"{meeting.id:>4}  {bc.to_local(app, meeting.starts_at):%Y-%m-%d %H:%M}  {meeting.status:9}  "
                   f"{meeting.title_mn}  yes {tally['yes']} · no {tally['no']} · questions {tally['questions']}")


def _meeting_or_fail(meeting_id: int) -> store.Meeting:
    meeting = store.get_meeting(meeting_id)
    if meeting is None:
        raise click.ClickException(f"no meeting {meeting_id}")
    return meeting


def _echo_meeting(app: Flask, meeting: store.Meeting) -> None:
    data = meetings.meeting_summary(app, meeting)
    click.echo(f"meeting {data['id']} ({data['kind']}, {data['status']}): {data['title']['mn']}")
    click.echo(f"  starts {data['starts_at']} at {data['place']['mn']}; audience {', '.join(data['audience'])}")
    tally = data["tally"]
    click.echo("  tally: " + ", ".join(f"{k} {v}" for k, v in tally.items()))
    for send in data["sends"]:
        click.echo(f"  {send['purpose']:12} {send['send_at'][:16]}  {send['status']:9} {send['recipients']:>6}"
                   + (f"  ({send['note']})" if send["note"] else ""))


@meetings_group.command("show")
@click.argument("meeting_id", type=int)
@click.option("--questions", is_flag=True, help="Also list the questions people sent.")
@with_app
def meetings_show(app: Flask, meeting_id: int, questions: bool) -> None:
    """Show a meeting, its sends and its tally (yes, no, questions, delivered, failed)."""
    meeting = _meeting_or_fail(meeting_id)
    _echo_meeting(app, meeting)
    if questions:
        record(cli_principal(), "meeting.questions_read", f"meeting:{meeting.id}")
        for question in store.questions_of(meeting):
            click.echo(f"  ? {bc.to_local(app, question.created_at):%m-%d %H:%M}  {mask_free_text(question.text)}")


@meetings_group.command("move")
@click.argument("meeting_id", type=int)
@click.option("--at", "at", required=True, help="New start, local time.")
@click.option("--place-mn", help="New place in Mongolian.")
@click.option("--place-en", help="New place in English.")
@with_app
def meetings_move(app: Flask, meeting_id: int, at: str, place_mn, place_en) -> None:
    """Move a meeting: a correction goes out now and reminders are planned again."""
    meeting = _meeting_or_fail(meeting_id)
    try:
        meetings.move_meeting(app, meeting, _time(app, at), place_mn, place_en)
    except bc.BroadcastError as exc:
        raise _fail(exc) from None
    _echo_meeting(app, meeting)


@meetings_group.command("cancel")
@click.argument("meeting_id", type=int)
@with_app
def meetings_cancel(app: Flask, meeting_id: int) -> None:
    """Cancel a meeting: reminders are dropped and those already told get a cancellation."""
    meeting = meetings.cancel_meeting(app, _meeting_or_fail(meeting_id))
    _echo_meeting(app, meeting)


# ---- gateway contacts import --------------------------------------------------------------------------------


@click.group("contacts")
def contacts_group() -> None:
    """Contacts: import a consented list; a person's copy (export) and erasure (forget); rekey."""


@contacts_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--group", "group_name", help="Also add everyone imported to this contact group.")
@click.option("--consented", is_flag=True, help="Confirm that everyone on the list gave consent.")
@with_app
def contacts_import(app: Flask, csv_file: str, group_name: str | None, consented: bool) -> None:
    """Import contacts from a CSV (phone, language, script, unit, consent): normalised, deduplicated."""
    from gateway import contact_import

    try:
        rows = contact_import.read_rows(Path(csv_file).read_text(encoding="utf-8-sig"))
    except (contact_import.ImportProblem, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from None
    checked = contact_import.plan(app, rows, consented)
    with click.progressbar(length=len(checked.valid), label="importing") as bar:
        outcomes = contact_import.apply(app, checked, group_name, progress=bar.update)
    click.echo(f"{len(rows)} rows: {outcomes['created']} new, {outcomes['updated']} already known (updated), "
               f"{outcomes['opted_out']} had opted out (left alone), {len(checked.rejected)} rejected"
               + (f"; added to group '{group_name}'" if group_name and checked.valid else ""))
    for line, reason in checked.rejected:
        click.echo(f"  line {line}: {reason}", err=True)


commands = [meetings_group, broadcast_command, broadcasts_group]  # contacts: registered by gateway.privacy_cli
