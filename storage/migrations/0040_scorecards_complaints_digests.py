"""0040: scorecard rounds, complaints and digests. Frozen copies of the models as they were at this step."""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel, utcnow


class AdminUnit(BaseModel):
    code = pw.CharField(index=True)


class ServicePoint(BaseModel):
    code = pw.CharField(unique=True)


class Contact(BaseModel):
    key = pw.CharField(unique=True)


class Round(BaseModel):
    service_point = pw.ForeignKeyField(ServicePoint, backref="rounds", on_delete="RESTRICT")
    number = pw.IntegerField()
    previous = pw.ForeignKeyField("self", null=True, backref="next_rounds", on_delete="SET NULL")
    status = pw.CharField(default="draft", index=True)  # draft | open | closed
    scale_min = pw.SmallIntegerField(default=1)
    scale_max = pw.SmallIntegerField(default=5)
    min_cell = pw.IntegerField(default=5)  # cells with fewer respondents are suppressed in every report
    opens_on = pw.DateField(null=True)
    closes_on = pw.DateField(null=True)
    opened_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)
    meeting_at = pw.DateTimeField(null=True)  # the interface meeting, naive UTC
    meeting_place_mn = pw.CharField(null=True)
    meeting_place_en = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("service_point", "number"), True),)


class Indicator(BaseModel):
    round = pw.ForeignKeyField(Round, backref="indicators", on_delete="CASCADE", index=False)
    code = pw.CharField()  # A, B, C…: stable across rounds so they can be compared
    position = pw.IntegerField(default=0)
    text_mn = pw.TextField()
    text_en = pw.TextField()
    text_latn = pw.TextField(null=True)  # overrides the automatic transliteration

    class Meta:
        indexes = ((("round", "code"), True),)


class ProviderSelfScore(BaseModel):
    round = pw.ForeignKeyField(Round, backref="self_scores", on_delete="CASCADE")
    indicator = pw.ForeignKeyField(Indicator, backref="self_scores", on_delete="CASCADE")
    score = pw.FloatField()
    note = pw.TextField(null=True)

    class Meta:
        indexes = ((("round", "indicator"), True),)


class Respondent(BaseModel):
    """A contact's self-declared group in one round (the latest answer wins)."""

    round = pw.ForeignKeyField(Round, backref="respondents", on_delete="CASCADE", index=False)
    contact = pw.ForeignKeyField(Contact, backref="rounds", on_delete="CASCADE")
    group = pw.CharField(default="unspecified")
    created_at = pw.DateTimeField(default=utcnow)  # first scores: counts respondents "as of" a date
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("round", "contact"), True),)


class Score(BaseModel):
    round = pw.ForeignKeyField(Round, backref="scores", on_delete="CASCADE", index=False)  # leads the unique index
    indicator = pw.ForeignKeyField(Indicator, backref="scores", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="scores", on_delete="CASCADE")
    score = pw.SmallIntegerField()
    channel = pw.CharField(default="sms")  # sms | ussd | paper
    scored_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("round", "indicator", "contact"), True),)


class Reason(BaseModel):
    """An optional free-text reason; only `redacted_text` (set by staff) ever leaves the system."""

    round = pw.ForeignKeyField(Round, backref="reasons", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="reasons", on_delete="CASCADE")
    text = pw.TextField()
    redacted_text = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class ActionItem(BaseModel):
    round = pw.ForeignKeyField(Round, backref="action_items", on_delete="CASCADE")
    indicator = pw.ForeignKeyField(Indicator, null=True, backref="action_items", on_delete="SET NULL")
    action = pw.TextField()
    owner_role = pw.CharField()
    owner_org = pw.CharField()
    due_on = pw.DateField(index=True)
    status = pw.CharField(default="planned")
    created_at = pw.DateTimeField(default=utcnow)


class ActionUpdate(BaseModel):
    item = pw.ForeignKeyField(ActionItem, backref="updates", on_delete="CASCADE")
    status = pw.CharField()
    note = pw.TextField(null=True)
    actor = pw.CharField()
    at = pw.DateTimeField(default=utcnow)


class ComplaintRef(BaseModel):
    """A reserved reference: the flow may show `G-0412` before the complaint row exists."""

    run_id = pw.IntegerField(null=True, unique=True)
    reserved_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "reserved_ref"  # "complaint_ref" is the name of Complaint.ref's index


class Complaint(BaseModel):
    ref = pw.CharField(unique=True)
    contact = pw.ForeignKeyField(Contact, null=True, backref="complaints", on_delete="SET NULL")
    anonymous = pw.BooleanField(default=True)
    category = pw.CharField(index=True)
    admin_unit = pw.ForeignKeyField(AdminUnit, null=True, backref="complaints", on_delete="SET NULL")
    service_point = pw.ForeignKeyField(ServicePoint, null=True, backref="complaints", on_delete="SET NULL")
    landmark = pw.TextField(null=True)
    text = pw.TextField()
    redacted_text = pw.TextField(null=True)  # only this ever leaves the system (digests, CSO reports)
    sensitive = pw.BooleanField(default=False, index=True)  # restricted queue: admin and designated CSOs
    flagged = pw.BooleanField(default=False)  # the citizen said "not solved"
    channel = pw.CharField(default="sms")
    status = pw.CharField(default="new", index=True)
    due_at = pw.DateTimeField()
    created_at = pw.DateTimeField(default=utcnow, index=True)
    updated_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True, index=True)
    closed_at = pw.DateTimeField(null=True)
    reopened_count = pw.IntegerField(default=0)


class ComplaintEvent(BaseModel):
    complaint = pw.ForeignKeyField(Complaint, backref="events", on_delete="CASCADE")
    from_status = pw.CharField(null=True)
    to_status = pw.CharField()
    note = pw.TextField(null=True)
    actor = pw.CharField()  # token name, "cli", "citizen" or "system"
    at = pw.DateTimeField(default=utcnow)


class PendingQuestion(BaseModel):
    """A yes/no question we sent outside a flow (e.g. "G-0412 … Is it solved? 1 yes 2 no").

    The conversation layer asks `gateway.complaints.answer_pending` before matching keywords; the latest open
    question of a contact is the one a bare "1"/"2" answers.
    """

    contact = pw.ForeignKeyField(Contact, backref="pending_questions", on_delete="CASCADE")
    complaint = pw.ForeignKeyField(Complaint, backref="questions", on_delete="CASCADE")
    kind = pw.CharField(default="solved")
    note = pw.TextField(null=True)  # what staff reported, quoted in the question
    asked_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(index=True)
    answer = pw.CharField(null=True)  # yes | no
    answered_at = pw.DateTimeField(null=True)


class DigestSubscriber(BaseModel):
    """A CSO focal point who gets the weekly SMS summary (for one admin unit subtree, or everything)."""

    contact = pw.ForeignKeyField(Contact, backref="digest_subscriptions", on_delete="CASCADE")
    admin_unit = pw.ForeignKeyField(AdminUnit, null=True, backref="digest_subscribers", on_delete="CASCADE")
    label = pw.CharField()  # organisation / role, never a number
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class DigestSend(BaseModel):
    """One scheduled digest delivery: makes the Monday job safe to run twice."""

    week = pw.CharField()  # 2026-W47
    subscriber = pw.ForeignKeyField(DigestSubscriber, backref="sends", on_delete="CASCADE")
    kind = pw.CharField(default="sms")
    text = pw.TextField()
    segments = pw.IntegerField()
    sent_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("week", "subscriber", "kind"), True),)


MODELS = [Round, Indicator, ProviderSelfScore, Respondent, Score, Reason, ActionItem, ActionUpdate,
          ComplaintRef, Complaint, ComplaintEvent, PendingQuestion, DigestSubscriber, DigestSend]


def up(migrator, db):
    db.create_tables(MODELS)


def down(migrator, db):
    db.drop_tables(list(reversed(MODELS)))
