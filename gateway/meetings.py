"""Meetings: the notice, reminders, moves and cancellations, the due-work job, and RSVP replies.

Everything that is due is a Broadcast row (storage.meetings) with a send time, so a restart or a missed tick
loses nothing: the `meetings.due` job looks at the table on every tick, sends what became due while the service
was down, and drops what is now stale (a reminder for a meeting that has already started).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from flows.decision import Person
from flows.effects import RecordRsvp
from gateway import broadcasts as bc
from gateway.conversation import AppliedRun, start_sms_flow
from gateway.logs import log_event
from storage import meetings as store
from storage.db import utcnow

KINDS = ("inh", "interface", "consultation", "ldf")
DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "notice": {
        "mn": "Хурлын зар: {title} {date} ({weekday}) {time}, {place}. Ирэх бол 1, ирэхгүй бол 2 гэж хариулна уу. "
              "Асуулт байвал бичнэ үү.",
        "en": "Meeting: {title}, {weekday} {date} {time} at {place}. Reply 1 if you will come, 2 if not, "
              "or send a question."},
    "reminder": {
        "mn": "Сануулга: {title} {date} ({weekday}) {time}, {place}. Ирэх бол 1, ирэхгүй бол 2.",
        "en": "Reminder: {title}, {weekday} {date} {time} at {place}. Reply 1 if you will come, 2 if not."},
    "correction": {
        "mn": "Өөрчлөлт: {title} шинэ цаг {date} ({weekday}) {time}, {place}. Ирэх бол 1, ирэхгүй бол 2.",
        "en": "Change: {title} is now {weekday} {date} {time} at {place}. Reply 1 if you will come, 2 if not."},
    "cancellation": {
        "mn": "Цуцлагдлаа: {date} ({weekday}) {time}-д болох {title} болохгүй.",
        "en": "Cancelled: {title} on {weekday} {date} {time} will not take place."},
}


def settings(app: Flask) -> dict:
    return app.config["GATEWAY"]["meetings"]


# ---- planning ---------------------------------------------------------------------------------------------


def _templates(meeting_templates: dict | None, purpose: str) -> dict[str, str]:
    custom = (meeting_templates or {}).get(purpose) or {}
    return {"mn": custom.get("mn") or DEFAULT_TEMPLATES[purpose]["mn"],
            "en": custom.get("en") or DEFAULT_TEMPLATES[purpose]["en"]}


def _texts(app: Flask, meeting: store.Meeting, purpose: str) -> dict[str, str]:
    values = bc.meeting_values(app, meeting.starts_at, {"mn": meeting.title_mn, "en": meeting.title_en},
                               {"mn": meeting.place_mn, "en": meeting.place_en})
    return bc.render_variants(_templates(meeting.templates, purpose), values)


def preview_texts(app: Flask, clean: dict, purpose: str) -> dict[str, str]:
    """The texts a not-yet-saved meeting would send for `purpose` (for a dry run)."""
    values = bc.meeting_values(app, clean["starts_at"], {"mn": clean["title_mn"], "en": clean.get("title_en")},
                               {"mn": clean["place_mn"], "en": clean.get("place_en")})
    return bc.render_variants(_templates(clean.get("templates"), purpose), values)


def check_meeting(app: Flask, fields: dict) -> dict:
    """Validate the fields of a new meeting; returns them cleaned. Writes nothing."""
    for key, label in (("title_mn", "a title"), ("place_mn", "a place")):
        if not (fields.get(key) or "").strip():
            raise bc.BroadcastError(f"a meeting needs {label} ({key})")
    if fields.get("kind", "inh") not in KINDS:
        raise bc.BroadcastError(f"meeting kind must be one of {', '.join(KINDS)}")
    starts_at = fields.get("starts_at")
    if not isinstance(starts_at, dt.datetime):
        raise bc.BroadcastError("a meeting needs a start time (starts_at)")
    bc.require_future(app, starts_at, "the meeting start")
    notice_at = fields.get("notice_at")
    if notice_at is not None:
        bc.require_future(app, notice_at, "the notice time")
        if notice_at >= starts_at:
            raise bc.BroadcastError("the notice must go out before the meeting starts")
    minutes = fields.get("reminder_minutes")
    minutes = settings(app)["reminder_minutes"] if minutes is None else minutes
    if not all(isinstance(m, int) and m > 0 for m in minutes):
        raise bc.BroadcastError("reminder offsets must be whole minutes above 0")
    for purpose, texts in (fields.get("templates") or {}).items():
        if purpose not in DEFAULT_TEMPLATES or not isinstance(texts, dict):
            raise bc.BroadcastError(f"templates may override {', '.join(DEFAULT_TEMPLATES)} with {{mn, en}} texts")
        for language, text in texts.items():
            bc.check_template(text, bc.PLACEHOLDERS, f"{purpose} ({language})")
    audience = bc.check_audience(fields.get("audience") or [])
    return {**fields, "kind": fields.get("kind", "inh"), "audience": audience,
            "reminder_minutes": sorted(set(minutes), reverse=True), "title_mn": fields["title_mn"].strip(),
            "place_mn": fields["place_mn"].strip()}


def reminder_times(app: Flask, starts_at: dt.datetime, notice_at: dt.datetime, minutes: list[int]) -> list:
    """When each reminder goes: its offset before the start, moved out of quiet hours (to the morning, or to the
    evening before when the morning would be too late); skipped when that is not after the notice."""
    times = []
    for offset in minutes:
        when = starts_at - dt.timedelta(minutes=offset)
        morning = bc.quiet_until(app, when)
        if morning is not None:
            when = morning if morning < starts_at else bc.last_moment_before_quiet(app, when)
        if notice_at < when < starts_at and when not in times:
            times.append(when)
    return sorted(times)


def _plan_sends(app: Flask, meeting: store.Meeting, notice_at: dt.datetime | None, first: str,
                created_by: str) -> list[store.Broadcast]:
    """The first send (notice or correction) and the reminders, as scheduled broadcasts."""
    send_at = notice_at or utcnow()
    planned = [bc.create_broadcast(meeting.audience, _texts(app, meeting, first), send_at, meeting.latin,
                                   created_by, meeting, first)]
    reminder_texts = _texts(app, meeting, "reminder")
    for when in reminder_times(app, meeting.starts_at, send_at, meeting.reminder_minutes):
        planned.append(bc.create_broadcast(meeting.audience, reminder_texts, when, meeting.latin, created_by,
                                           meeting, "reminder"))
    return planned


def create_meeting(app: Flask, created_by: str = "cli", **fields: Any) -> store.Meeting:
    """Validate and record a meeting with its notice and reminders; a notice due now is queued at once."""
    clean = check_meeting(app, fields)
    notice_at = clean.pop("notice_at", None)
    columns = {k: clean.get(k) for k in ("kind", "title_mn", "title_en", "place_mn", "place_en", "starts_at",
                                          "audience", "reminder_minutes", "templates")}
    with store.write_transaction():
        meeting = store.Meeting.create(latin=bool(clean.get("latin")), created_by=created_by, **columns)
        for purpose in DEFAULT_TEMPLATES:  # render every text now, so a bad template fails before anything is saved
            _texts(app, meeting, purpose)
        planned = _plan_sends(app, meeting, notice_at, "notice", created_by)
    _send_due_now(app, planned)
    log_event("meeting.created", meeting=meeting.id, reminders=len(planned) - 1)
    return meeting


def _send_due_now(app: Flask, planned: list[store.Broadcast]) -> None:
    for broadcast in planned:
        if broadcast.send_at <= utcnow():
            send(app, broadcast)


def send(app: Flask, broadcast: store.Broadcast) -> int | None:
    """Enqueue a broadcast; for a meeting's notice, reminder or correction also open the RSVP conversation."""
    count = bc.enqueue(app, broadcast)
    if count is not None and broadcast.purpose in store.RSVP_PURPOSES:
        arm_rsvps(app, store.get_broadcast(broadcast.id))
    return count


def arm_rsvps(app: Flask, broadcast: store.Broadcast) -> int:
    """Start the `meeting_rsvp` flow, waiting for a reply, for each recipient (the flow's own first text is not
    sent: the notice already went as this broadcast, with the same 1 = yes, 2 = no)."""
    flowset = app.extensions.get("gateway.flows")
    if flowset is None or not getattr(flowset, "flows", {}).get(store.RSVP_FLOW):
        log_event("meeting.rsvp_flow_missing", broadcast=broadcast.id)
        store.mark_armed(broadcast)
        return 0
    contacts = store.contacts_to_arm(broadcast)
    for contact in contacts:
        start_sms_flow(app, contact.id, store.RSVP_FLOW)
    store.mark_armed(broadcast)
    return len(contacts)


def _stop_pending(meeting: store.Meeting, reason: str) -> None:
    """Cancel scheduled sends and whatever of earlier sends is still queued (it carries the old time)."""
    pending = store.scheduled_for_meeting(meeting)
    store.set_status([b.id for b in pending], "cancelled", reason, ("scheduled", "enqueuing"))
    for broadcast in store.meeting_sends(meeting):
        store.cancel_queued_for(broadcast, reason)


def move_meeting(app: Flask, meeting: store.Meeting, starts_at: dt.datetime, place_mn: str | None = None,
                 place_en: str | None = None, created_by: str = "cli") -> store.Meeting:
    """Move a meeting: a short correction goes out now and the reminders are planned again."""
    if meeting.status == "cancelled":
        raise bc.BroadcastError(f"meeting {meeting.id} is cancelled; create a new one instead")
    bc.require_future(app, starts_at, "the new start")
    if place_mn is not None and not place_mn.strip():
        raise bc.BroadcastError("a meeting needs a place (place_mn)")
    bc.check_audience(meeting.audience)
    with store.write_transaction():
        _stop_pending(meeting, "meeting moved")
        meeting.starts_at = starts_at
        meeting.place_mn = (place_mn or meeting.place_mn).strip()
        meeting.place_en = place_en if place_en is not None else meeting.place_en
        meeting.updated_at = utcnow()
        meeting.save()
        planned = _plan_sends(app, meeting, None, "correction", created_by)
    _send_due_now(app, planned)
    log_event("meeting.moved", meeting=meeting.id)
    return meeting


def cancel_meeting(app: Flask, meeting: store.Meeting, created_by: str = "cli") -> store.Meeting:
    """Cancel a meeting: reminders are dropped, and everyone who was told gets a cancellation."""
    if meeting.status == "cancelled":
        return meeting
    with store.write_transaction():
        told = store.was_announced(meeting)
        _stop_pending(meeting, "meeting cancelled")
        meeting.status, meeting.updated_at = "cancelled", utcnow()
        meeting.save()
        planned = [bc.create_broadcast(meeting.audience, _texts(app, meeting, "cancellation"), utcnow(),
                                       meeting.latin, created_by, meeting, "cancellation")] if told else []
    _send_due_now(app, planned)
    log_event("meeting.cancelled", meeting=meeting.id, told=told)
    return meeting


def meeting_summary(app: Flask, meeting: store.Meeting) -> dict:
    sends = store.meeting_sends(meeting)
    return {"id": meeting.id, "kind": meeting.kind, "status": meeting.status,
            "title": {"mn": meeting.title_mn, "en": meeting.title_en},
            "place": {"mn": meeting.place_mn, "en": meeting.place_en},
            "starts_at": bc.to_local(app, meeting.starts_at).isoformat(), "audience": meeting.audience,
            "reminder_minutes": meeting.reminder_minutes, "latin": meeting.latin,
            "tally": store.meeting_tally(meeting),
            "sends": [{"id": b.id, "purpose": b.purpose, "status": b.status, "recipients": b.recipients,
                       "send_at": bc.to_local(app, b.send_at).isoformat(), "note": b.note} for b in sends]}


# ---- the due-work job -------------------------------------------------------------------------------------


def drop_stale(app: Flask, now: dt.datetime) -> int:
    """Drop sends that no longer make sense: anything about a meeting that has started, an earlier reminder
    when a later one is also due (after downtime), and plain broadcasts late by more than `stale_hours`."""
    stale_before = now - dt.timedelta(hours=app.config["GATEWAY"]["broadcasts"]["stale_hours"])
    dropped = 0
    due = store.due_broadcasts(now, now)
    latest_reminder: dict[int, int] = {}
    for b in due:
        if b.purpose == "reminder":
            latest_reminder[b.meeting_id] = b.id  # due is ordered by send time: the last one wins
    for b in due:
        if b.status != "scheduled":
            continue
        if b.meeting_id and b.meeting.starts_at <= now:
            note = "the meeting had already started"
        elif b.purpose == "reminder" and latest_reminder[b.meeting_id] != b.id:
            note = "a later reminder was due as well"
        elif not b.meeting_id and b.send_at < stale_before:
            note = "stale: it was due while the service was down"
        else:
            continue
        dropped += store.set_status([b.id], "dropped", note, ("scheduled",))
        log_event("broadcast.dropped", broadcast=b.id, purpose=b.purpose, reason=note)
    return dropped


def run_due(app: Flask) -> dict:
    """Send what is due (catching up after downtime), drop what is stale, and hold bulk during quiet hours."""
    now = utcnow()
    held = 0
    until = bc.quiet_until(app, now)
    if until is not None:
        held = store.hold_bulk_until(until)
    dropped = drop_stale(app, now)
    for broadcast in store.started_meeting_sends(now):
        store.cancel_queued_for(broadcast, "the meeting had already started")
    sent = []
    for broadcast in store.due_broadcasts(now, now - bc.claim_lease(app)):
        if send(app, broadcast) is not None:
            sent.append(broadcast.id)
    for broadcast in store.unarmed_meeting_sends():
        arm_rsvps(app, broadcast)
    return {"enqueued": sent, "dropped": dropped, "held": held}


# ---- replies: the `records: rsvp` flow ----------------------------------------------------------------------


def meeting_data(app: Flask, person: Person) -> dict:
    """`meeting` for the RSVP flow's templates: the meeting this person was last told about."""
    meeting = store.latest_meeting_for(person.id)
    if meeting is None:
        return {"meeting": None}
    values = bc.meeting_values(app, meeting.starts_at, {"mn": meeting.title_mn, "en": meeting.title_en},
                               {"mn": meeting.place_mn, "en": meeting.place_en})
    data = {key: {"mn": values["mn"][key], "en": values["en"][key]} for key in ("title", "place", "weekday")}
    date = bc.to_local(app, meeting.starts_at).date().isoformat()
    return {"meeting": {"id": meeting.id, "date": date, "time": values["mn"]["time"], "status": meeting.status,
                        **data}}


def record_rsvp(app: Flask, source: AppliedRun, effect: RecordRsvp) -> None:
    """Store a yes/no/maybe (the latest answer counts) or a question for staff."""
    meeting = store.latest_meeting_for(source.contact_id)
    if meeting is None or meeting.status == "cancelled":
        return
    if effect.answer:
        store.record_rsvp(meeting, source.contact_id, effect.answer)
    if effect.question:
        store.record_question(meeting, source.contact_id, effect.question)
    log_event("meeting.rsvp", meeting=meeting.id, answer=effect.answer or "question")
