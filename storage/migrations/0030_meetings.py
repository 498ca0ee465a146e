"""0030: meetings, broadcasts, contact groups, RSVPs and meeting questions. Frozen copies of the models."""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel, JSONField, utcnow


class Contact(BaseModel):  # only what the foreign keys need; the table exists since 0001
    class Meta:
        table_name = "contact"


class ContactGroup(BaseModel):
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
    kind = pw.CharField()
    title_mn = pw.CharField()
    title_en = pw.CharField(null=True)
    place_mn = pw.CharField()
    place_en = pw.CharField(null=True)
    starts_at = pw.DateTimeField(index=True)
    audience = JSONField()
    reminder_minutes = JSONField()
    templates = JSONField(null=True)
    latin = pw.BooleanField(default=False)
    status = pw.CharField(default="scheduled")
    created_by = pw.CharField(default="cli")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Broadcast(BaseModel):
    meeting = pw.ForeignKeyField(Meeting, null=True, backref="broadcasts", on_delete="CASCADE")
    purpose = pw.CharField(default="broadcast")
    audience = JSONField()
    texts = JSONField()
    latin = pw.BooleanField(default=False)
    send_at = pw.DateTimeField()
    status = pw.CharField(default="scheduled")
    recipients = pw.IntegerField(default=0)
    note = pw.TextField(null=True)
    claimed_by = pw.CharField(null=True)
    claimed_at = pw.DateTimeField(null=True)
    enqueued_at = pw.DateTimeField(null=True)
    armed_at = pw.DateTimeField(null=True)
    created_by = pw.CharField(default="cli")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("status", "send_at"), False),)


class Rsvp(BaseModel):
    meeting = pw.ForeignKeyField(Meeting, backref="rsvps", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="rsvps", on_delete="CASCADE")
    answer = pw.CharField()
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("meeting", "contact"), True),)


class MeetingQuestion(BaseModel):
    meeting = pw.ForeignKeyField(Meeting, backref="questions", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="meeting_questions", on_delete="CASCADE")
    text = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)


MODELS = [ContactGroup, ContactGroupMember, Meeting, Broadcast, Rsvp, MeetingQuestion]


def up(migrator, db):
    db.create_tables(MODELS)
    # Progress and tallies look messages up by origin ("broadcast:<id>").
    db.execute_sql("CREATE INDEX IF NOT EXISTS message_origin ON message (origin)")


def down(migrator, db):
    db.execute_sql("DROP INDEX IF EXISTS message_origin")
    db.drop_tables(list(reversed(MODELS)))
