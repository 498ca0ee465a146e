"""Meetings, broadcasts, contact groups and RSVPs, and the set-based queries behind bulk sends.

A broadcast is one row here plus one outbox row (storage.models.Message) per recipient. Recipients are written
with INSERT … SELECT … ON CONFLICT DO NOTHING on the idempotency key `broadcast:<id>:<contact id>`, so enqueuing
the same broadcast twice (a restart, a second process) never queues anyone twice.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import peewee as pw
from peewee import SQL, Case, Value, fn

from storage.db import BaseModel, JSONField, database, is_postgres, utcnow
from storage.models import AdminUnit, Contact, Message, PhoneNumber
from storage.outbox import BULK_PRIORITY

UNIT_KINDS = ("capital", "aimag", "district", "soum", "khoroo", "bag", "kheseg")
MEETING_PURPOSES = ("notice", "reminder", "correction", "cancellation")
VARIANTS = ("mn-cyrl", "mn-latn", "en")  # language-script of one rendered text
# Message.purpose of each broadcast purpose: the outbox treats broadcast/notice/reminder as bulk (quiet hours,
# bulk routing, never to an opted-out person), so corrections and cancellations travel as notices.
MESSAGE_PURPOSE = {"broadcast": "broadcast", "notice": "notice", "reminder": "reminder", "correction": "notice",
                   "cancellation": "notice"}


class ContactGroup(BaseModel):
    """A named list of contacts (a CSO's member list, a kheseg's volunteers) usable as an audience."""

    name = pw.CharField(unique=True)
    description = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class ContactGroupMember(BaseModel):
    group = pw.ForeignKeyField(ContactGroup, backref="members", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="groups", on_delete="CASCADE")
    added_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("group", "contact"), True),)


class Meeting(BaseModel):
    kind = pw.CharField()  # inh | interface | consultation | ldf
    title_mn = pw.CharField()
    title_en = pw.CharField(null=True)
    place_mn = pw.CharField()
    place_en = pw.CharField(null=True)
    starts_at = pw.DateTimeField(index=True)  # naive UTC
    audience = JSONField()  # ["khoroo:BGD-07", "group:volunteers", "round:3"]
    reminder_minutes = JSONField()  # offsets before the start, e.g. [4320, 120]
    templates = JSONField(null=True)  # {"notice": {"mn": …, "en": …}, …}: overrides of the default texts
    latin = pw.BooleanField(default=False)  # send Mongolian in Latin letters (GSM-7)
    status = pw.CharField(default="scheduled")  # scheduled | cancelled
    created_by = pw.CharField(default="cli")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Broadcast(BaseModel):
    """One send to an audience: a plain broadcast, or a meeting's notice, reminder, correction or cancellation."""

    meeting = pw.ForeignKeyField(Meeting, null=True, backref="broadcasts", on_delete="CASCADE")
    purpose = pw.CharField(default="broadcast")  # broadcast | notice | reminder | correction | cancellation
    audience = JSONField()
    texts = JSONField()  # {"mn-cyrl": …, "mn-latn": …, "en": …}, rendered when planned or when due
    latin = pw.BooleanField(default=False)
    send_at = pw.DateTimeField()  # naive UTC
    status = pw.CharField(default="scheduled")  # scheduled | enqueuing | queued | cancelled | dropped
    recipients = pw.IntegerField(default=0)
    note = pw.TextField(null=True)  # why it was dropped or cancelled
    claimed_by = pw.CharField(null=True)
    claimed_at = pw.DateTimeField(null=True)
    enqueued_at = pw.DateTimeField(null=True)
    armed_at = pw.DateTimeField(null=True)  # RSVP runs started for its recipients (meeting sends only)
    created_by = pw.CharField(default="cli")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("status", "send_at"), False),)

    @property
    def origin(self) -> str:
        return f"broadcast:{self.id}"


class Rsvp(BaseModel):
    """A person's latest yes/no for a meeting: answering again replaces the earlier answer."""

    meeting = pw.ForeignKeyField(Meeting, backref="rsvps", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="rsvps", on_delete="CASCADE")
    answer = pw.CharField()  # yes | no | maybe
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("meeting", "contact"), True),)


class MeetingQuestion(BaseModel):
    meeting = pw.ForeignKeyField(Meeting, backref="questions", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="meeting_questions", on_delete="CASCADE")
    text = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)


MEETING_MODELS = [ContactGroup, ContactGroupMember, Meeting, Broadcast, Rsvp, MeetingQuestion]


def write_transaction():
    """A transaction that reads and then writes. SQLite takes the write lock up front (BEGIN IMMEDIATE): a deferred
    transaction that upgrades after another process wrote fails at once with "database is locked"."""
    return database.atomic() if is_postgres() else database.atomic("IMMEDIATE")


class UnknownAudience(ValueError):
    """An audience spec that names nothing we know (a unit code, a group, a round)."""


# ---- audiences -------------------------------------------------------------------------------------------


def unit_subtree_ids(kind: str, code: str) -> list[int]:
    """Ids of the current unit `code` (of `kind`, or any kind for "unit") and every unit below it."""
    query = AdminUnit.select(AdminUnit.id).where((AdminUnit.code == code) & AdminUnit.valid_to.is_null())
    if kind != "unit":
        query = query.where(AdminUnit.kind == kind)
    roots = [row.id for row in query]
    if not roots:
        raise UnknownAudience(f"unknown {kind}: {code}")
    found, frontier = set(roots), roots
    while frontier:  # unit trees are a few levels deep: a query per level beats a recursive CTE's portability cost
        frontier = [u.id for u in AdminUnit.select(AdminUnit.id).where(AdminUnit.parent.in_(frontier))
                    if u.id not in found]
        found.update(frontier)
    return sorted(found)


def _spec_condition(spec: str):
    kind, _, value = spec.partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if not value:
        raise UnknownAudience(f"audience '{spec}' must look like khoroo:<code>, group:<name> or round:<id>")
    if kind in UNIT_KINDS or kind == "unit":
        return Contact.admin_unit.in_(unit_subtree_ids(kind, value))
    if kind == "group":
        group = ContactGroup.get_or_none(ContactGroup.name == value)
        if group is None:
            raise UnknownAudience(f"unknown contact group: {value}")
        return Contact.id.in_(ContactGroupMember.select(ContactGroupMember.contact).where(
            ContactGroupMember.group == group))
    if kind == "round":
        return Contact.id.in_(_round_respondents(value))
    raise UnknownAudience(f"unknown audience kind '{kind}' in '{spec}': use a unit kind ({', '.join(UNIT_KINDS)}), "
                          "group or round")


def _round_respondents(value: str):
    """Contacts who answered a scorecard round (storage.scorecards owns those tables)."""
    try:
        from storage.scorecards import Respondent, Round
    except ImportError:
        raise UnknownAudience("scorecard rounds are not available in this installation") from None
    if not value.isdigit() or Round.get_or_none(Round.id == int(value)) is None:
        raise UnknownAudience(f"unknown round: {value}")
    return Respondent.select(Respondent.contact).where(Respondent.round == int(value))


def validate_audience(specs: Iterable[str]) -> list[str]:
    """The specs, cleaned; raises UnknownAudience for an empty list or a spec naming nothing."""
    cleaned = [s.strip() for s in specs if s and s.strip()]
    if not cleaned:
        raise UnknownAudience("the audience is empty: give at least one of khoroo:<code>, group:<name>, round:<id>")
    for spec in cleaned:
        _spec_condition(spec)
    return cleaned


def reachable_audience(specs: Iterable[str]):
    """A Contact query of everyone in any of `specs` who consented, has not opted out and has a number."""
    condition = None
    for spec in specs:
        part = _spec_condition(spec)
        condition = part if condition is None else (condition | part)
    if condition is None:
        raise UnknownAudience("the audience is empty")
    return (Contact.select(Contact.id).join(PhoneNumber, on=(PhoneNumber.contact == Contact.id))
            .where(condition & Contact.consent_at.is_null(False) & Contact.opted_out_at.is_null()))


def variant_of(default_script: str, force_latin: bool):
    """SQL for a contact's text variant: 'en', 'mn-latn' or 'mn-cyrl' (script preference, then last used)."""
    if force_latin:
        return Case(None, [(Contact.language == "en", "en")], "mn-latn")
    script = fn.COALESCE(Contact.script, Contact.last_script, default_script)
    return Case(None, [(Contact.language == "en", "en"), (script == "latn", "mn-latn")], "mn-cyrl")


def count_by_variant(specs: list[str], default_script: str, force_latin: bool) -> dict[str, int]:
    variant = variant_of(default_script, force_latin)
    query = (reachable_audience(specs).select(variant.alias("variant"), fn.COUNT(Contact.id).alias("n"))
             .group_by(SQL('"variant"')))  # by alias: PostgreSQL cannot match a parameterised CASE
    counts = dict.fromkeys(VARIANTS, 0)
    for row in query.dicts():
        counts[row["variant"]] = row["n"]
    return counts


def count_by_number_prefix(specs: list[str], digits: int = 7) -> dict[str, int]:
    """Recipients by the first `digits` characters of their number (+976 and 3 digits: the operator's range), for
    the phone pool's time estimate. Counts only: no number leaves this function."""
    prefix = fn.SUBSTR(PhoneNumber.e164, 1, digits)
    query = (reachable_audience(specs).select(prefix.alias("prefix"), fn.COUNT(Contact.id).alias("n"))
             .group_by(prefix))
    return {row["prefix"]: row["n"] for row in query.dicts()}


# ---- bulk enqueue -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantText:
    variant: str  # mn-cyrl | mn-latn | en
    text: str
    encoding: str
    segments: int


def audience_id_range(specs: list[str]) -> tuple[int, int] | None:
    row = reachable_audience(specs).select(fn.MIN(Contact.id), fn.MAX(Contact.id)).scalar(as_tuple=True)
    return None if row[0] is None else (row[0], row[1])


def enqueue_chunk(broadcast: Broadcast, texts: list[VariantText], channel: str, not_before: dt.datetime | None,
                  default_script: str, id_range: tuple[int, int]) -> int:
    """Queue the broadcast for audience contacts with ids in `id_range` (inclusive): one INSERT … SELECT that picks
    each contact's text variant with CASE, duplicates skipped by the idempotency key. Returns the rows inserted."""
    low, high = id_range
    variant = variant_of(default_script, broadcast.latin)

    def per_variant(attribute: str) -> Case:
        return Case(variant, [(text.variant, getattr(text, attribute)) for text in texts])

    now = utcnow()
    select = (reachable_audience(broadcast.audience)
              .select(Value("out"), Contact.id, Value(channel), Value("sms"), per_variant("text"), Value("queued"),
                      Value(BULK_PRIORITY), Value(MESSAGE_PURPOSE[broadcast.purpose]), Value(broadcast.origin),
                      Value(f"{broadcast.origin}:").concat(Contact.id.cast("text")), per_variant("encoding"),
                      per_variant("segments"), Value(0), Value(not_before), Value(now), Value(now))
              .where(Contact.id.between(low, high) & variant.in_([text.variant for text in texts])))
    fields = [Message.direction, Message.contact, Message.channel, Message.kind, Message.text, Message.status,
              Message.priority, Message.purpose, Message.origin, Message.idempotency_key, Message.encoding,
              Message.segments, Message.attempts, Message.next_attempt_at, Message.created_at, Message.updated_at]
    with write_transaction():
        return _rowcount(Message.insert_from(select, fields).on_conflict_ignore().execute())


def _rowcount(result) -> int:
    if isinstance(result, int):
        return result
    return getattr(result, "rowcount", 0) or 0


def count_enqueued(broadcast: Broadcast) -> int:
    return Message.select().where(Message.origin == broadcast.origin).count()


def cancel_queued_for(broadcast: Broadcast, reason: str) -> int:
    """Cancel what is still queued of one broadcast (a meeting that moved or was cancelled mid-send)."""
    return (Message.update(status="cancelled", last_error=reason, updated_at=utcnow())
            .where((Message.origin == broadcast.origin) & (Message.status == "queued"))
            .execute())


def hold_bulk_until(until: dt.datetime) -> int:
    """Quiet hours: bulk rows still queued wait until `until` (replies are never held)."""
    return (Message.update(next_attempt_at=until)
            .where((Message.direction == "out") & (Message.status == "queued") & (Message.priority >= BULK_PRIORITY)
                   & (Message.next_attempt_at.is_null() | (Message.next_attempt_at < until)))
            .execute())


# ---- the due-work table -----------------------------------------------------------------------------------


def due_broadcasts(now: dt.datetime, stale_claim_before: dt.datetime) -> list[Broadcast]:
    """Scheduled broadcasts that are due, and any whose enqueue was interrupted (claim older than the lease)."""
    return list(Broadcast.select().where(
        ((Broadcast.status == "scheduled") & (Broadcast.send_at <= now))
        | ((Broadcast.status == "enqueuing") & (Broadcast.claimed_at < stale_claim_before)))
        .order_by(Broadcast.send_at, Broadcast.id))


def claim(broadcast: Broadcast, holder: str, now: dt.datetime, stale_claim_before: dt.datetime) -> bool:
    """Take the broadcast for enqueuing; exactly one process wins (a conditional UPDATE, like a lease)."""
    won = (Broadcast.update(status="enqueuing", claimed_by=holder, claimed_at=now)
           .where((Broadcast.id == broadcast.id)
                  & ((Broadcast.status == "scheduled")
                     | ((Broadcast.status == "enqueuing") & (Broadcast.claimed_at < stale_claim_before))))
           .execute())
    return bool(won)


def finish(broadcast: Broadcast, holder: str) -> int:
    """Mark the broadcast queued; returns its recipient count."""
    recipients = count_enqueued(broadcast)
    (Broadcast.update(status="queued", enqueued_at=utcnow(), recipients=recipients)
     .where((Broadcast.id == broadcast.id) & (Broadcast.claimed_by == holder)).execute())
    return recipients


def set_status(broadcast_ids: Iterable[int], status: str, note: str, only_from: tuple[str, ...]) -> int:
    ids = list(broadcast_ids)
    if not ids:
        return 0
    return (Broadcast.update(status=status, note=note)
            .where(Broadcast.id.in_(ids) & Broadcast.status.in_(only_from)).execute())


def scheduled_for_meeting(meeting: Meeting, purposes: tuple[str, ...] = MEETING_PURPOSES) -> list[Broadcast]:
    return list(Broadcast.select().where((Broadcast.meeting == meeting) & Broadcast.purpose.in_(purposes)
                                         & Broadcast.status.in_(("scheduled", "enqueuing"))))


def started_meeting_sends(now: dt.datetime, window: dt.timedelta = dt.timedelta(days=1)) -> list[Broadcast]:
    """Notices, reminders and corrections of meetings that started within `window`: nothing left of them should go."""
    return list(Broadcast.select().join(Meeting).where(
        Broadcast.purpose.in_(("notice", "reminder", "correction")) & (Broadcast.status == "queued")
        & (Meeting.starts_at <= now) & (Meeting.starts_at > now - window)))


RSVP_FLOW = "meeting_rsvp"
RSVP_PURPOSES = ("notice", "reminder", "correction")


def contacts_to_arm(broadcast: Broadcast) -> list[Contact]:
    """Recipients still waiting for this send whose SMS conversation is free (or already an RSVP): a reply of
    1 or 2 should reach the RSVP flow, but a person in the middle of a complaint is not interrupted."""
    from storage.models import FlowRun

    busy = FlowRun.select(FlowRun.contact).where((FlowRun.channel == "sms") & (FlowRun.status == "active")
                                                 & (FlowRun.flow_id != RSVP_FLOW))
    recipients = Message.select(Message.contact).where((Message.origin == broadcast.origin)
                                                       & (Message.status != "cancelled"))
    return list(Contact.select().where(Contact.id.in_(recipients) & Contact.id.not_in(busy)
                                       & Contact.opted_out_at.is_null()).order_by(Contact.id))


def mark_armed(broadcast: Broadcast) -> None:
    Broadcast.update(armed_at=utcnow()).where(Broadcast.id == broadcast.id).execute()


def unarmed_meeting_sends() -> list[Broadcast]:
    """Meeting sends queued but whose RSVP runs were not all started (the process stopped in between)."""
    return list(Broadcast.select().where((Broadcast.status == "queued") & Broadcast.armed_at.is_null()
                                         & Broadcast.purpose.in_(RSVP_PURPOSES)))


def renew_claim(broadcast: Broadcast) -> None:
    Broadcast.update(claimed_at=utcnow()).where(Broadcast.id == broadcast.id).execute()


def get_broadcast(broadcast_id: int) -> Broadcast | None:
    return Broadcast.get_or_none(Broadcast.id == broadcast_id)


def latest_broadcasts(limit: int) -> list[Broadcast]:
    return list(Broadcast.select().order_by(Broadcast.id.desc()).limit(limit))


def meeting_sends(meeting: Meeting) -> list[Broadcast]:
    return list(Broadcast.select().where(Broadcast.meeting == meeting).order_by(Broadcast.send_at, Broadcast.id))


def was_announced(meeting: Meeting) -> bool:
    """Whether any send of this meeting has been queued (so people know of it)."""
    return Broadcast.select().where((Broadcast.meeting == meeting) & (Broadcast.status == "queued")).exists()


def get_meeting(meeting_id: int) -> Meeting | None:
    return Meeting.get_or_none(Meeting.id == meeting_id)


def meetings_list(now: dt.datetime, include_past: bool, limit: int = 500) -> list[Meeting]:
    """Meetings by start time: upcoming and not cancelled, or every one."""
    query = Meeting.select().order_by(Meeting.starts_at, Meeting.id)
    if not include_past:
        query = query.where((Meeting.starts_at >= now) & (Meeting.status == "scheduled"))
    return list(query.limit(limit))


def questions_of(meeting: Meeting) -> list[MeetingQuestion]:
    return list(MeetingQuestion.select().where(MeetingQuestion.meeting == meeting).order_by(MeetingQuestion.id))


# ---- progress, tallies, RSVPs -----------------------------------------------------------------------------


def status_counts(origins: list[str]) -> dict[str, int]:
    if not origins:
        return {}
    query = (Message.select(Message.status, fn.COUNT(Message.id).alias("n"))
             .where(Message.origin.in_(origins)).group_by(Message.status))
    return {row["status"]: row["n"] for row in query.dicts()}


def delivery_people(origins: list[str]) -> dict[str, int]:
    """Distinct people reached (delivered) and failed, over several broadcasts to the same audience."""
    if not origins:
        return {"delivered": 0, "failed": 0}
    base = Message.select(fn.COUNT(fn.DISTINCT(Message.contact))).where(Message.origin.in_(origins))
    return {"delivered": base.where(Message.status == "delivered").scalar() or 0,
            "failed": base.where(Message.status == "failed").scalar() or 0}


def meeting_tally(meeting: Meeting) -> dict:
    """yes / no / maybe / questions / delivered / failed / sent for one meeting (counts by person, not message)."""
    origins = [b.origin for b in Broadcast.select(Broadcast.id).where(Broadcast.meeting == meeting)]
    answers = {row["answer"]: row["n"] for row in (
        Rsvp.select(Rsvp.answer, fn.COUNT(Rsvp.id).alias("n")).where(Rsvp.meeting == meeting)
        .group_by(Rsvp.answer).dicts())}
    sent = (Message.select(fn.COUNT(fn.DISTINCT(Message.contact)))
            .where(Message.origin.in_(origins) & Message.status.in_(("sent", "delivered"))).scalar() if origins else 0)
    return {"yes": answers.get("yes", 0), "no": answers.get("no", 0), "maybe": answers.get("maybe", 0),
            "questions": MeetingQuestion.select().where(MeetingQuestion.meeting == meeting).count(),
            "sent": sent or 0, **delivery_people(origins)}


def latest_meeting_for(contact_id: int) -> Meeting | None:
    """The meeting whose notice, reminder or correction reached this person last (what a reply of 1/2 means)."""
    message = (Message.select(Message.origin)
               .where((Message.contact == contact_id) & (Message.direction == "out")
                      & Message.purpose.in_(("notice", "reminder")))
               .order_by(Message.id.desc()).first())
    if message is None or not (message.origin or "").startswith("broadcast:"):
        return None
    broadcast = Broadcast.get_or_none(Broadcast.id == int(message.origin.split(":")[1]))
    return broadcast.meeting if broadcast and broadcast.meeting_id else None


def record_rsvp(meeting: Meeting, contact_id: int, answer: str) -> None:
    now = utcnow()
    (Rsvp.insert(meeting=meeting, contact=contact_id, answer=answer, updated_at=now)
     .on_conflict(conflict_target=[Rsvp.meeting, Rsvp.contact], update={Rsvp.answer: answer, Rsvp.updated_at: now})
     .execute())


def record_question(meeting: Meeting, contact_id: int, text: str) -> MeetingQuestion:
    return MeetingQuestion.create(meeting=meeting, contact=contact_id, text=text)


# ---- contact groups ---------------------------------------------------------------------------------------


def group_named(name: str) -> ContactGroup:
    group, _ = ContactGroup.get_or_create(name=name)
    return group


def add_to_group(group: ContactGroup, contact_ids: Iterable[int]) -> None:
    rows = [{"group": group.id, "contact": cid} for cid in contact_ids]
    for start in range(0, len(rows), 500):
        ContactGroupMember.insert_many(rows[start:start + 500]).on_conflict_ignore().execute()


# ---- contact import ---------------------------------------------------------------------------------------


def current_unit_id(code: str) -> int | None:
    unit = AdminUnit.get_or_none((AdminUnit.code == code) & AdminUnit.valid_to.is_null())
    return unit.id if unit else None


def import_contact(e164: str, secret: str, *, language: str, script: str | None, unit_id: int | None,
                   consent_at: dt.datetime, consent_version: str) -> tuple[int, str]:
    """Add or update one imported contact with consent recorded. Returns (contact id, outcome): created,
    updated, or opted_out (someone who said STOP is never re-subscribed by an import)."""
    from storage.contacts import contact_for_number

    contact, created = contact_for_number(e164, secret, language=language, script=script, admin_unit=unit_id,
                                          consent_at=consent_at, consent_version=consent_version,
                                          consent_source="import")
    if created:
        return contact.id, "created"
    if contact.opted_out_at is not None:
        return contact.id, "opted_out"
    fields: dict = {Contact.admin_unit: unit_id or contact.admin_unit_id}
    if contact.consent_at is None:
        fields.update({Contact.consent_at: consent_at, Contact.consent_version: consent_version,
                       Contact.consent_source: "import"})
    Contact.update(fields).where(Contact.id == contact.id).execute()
    return contact.id, "updated"
