"""0070: console users and their scope, login throttling, and the staff ↔ citizen complaint thread.
Frozen copies of the models as they were at this step."""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel, utcnow


class Message(BaseModel):
    class Meta:
        table_name = "message"


class Organisation(BaseModel):
    class Meta:
        table_name = "organisation"


class Complaint(BaseModel):
    class Meta:
        table_name = "complaint"


class ConsoleUser(BaseModel):
    username = pw.CharField(unique=True)
    display_name = pw.CharField()
    role = pw.CharField()
    scope = pw.TextField(default="")
    organisation = pw.ForeignKeyField(Organisation, null=True, backref="console_users", on_delete="SET NULL")
    password_hash = pw.CharField(null=True)
    invite_hash = pw.CharField(null=True, unique=True)
    invite_expires_at = pw.DateTimeField(null=True)
    session_epoch = pw.IntegerField(default=0)
    created_by = pw.CharField(default="cli")
    created_at = pw.DateTimeField(default=utcnow)
    last_login_at = pw.DateTimeField(null=True)
    disabled_at = pw.DateTimeField(null=True)


class LoginThrottle(BaseModel):
    key = pw.CharField(primary_key=True)
    failures = pw.IntegerField(default=0)
    last_failure_at = pw.DateTimeField(null=True)
    blocked_until = pw.DateTimeField(null=True)


class ComplaintMessage(BaseModel):
    complaint = pw.ForeignKeyField(Complaint, backref="thread", on_delete="CASCADE")
    direction = pw.CharField()
    text = pw.TextField()
    actor = pw.CharField()
    message = pw.ForeignKeyField(Message, null=True, backref="complaint_thread", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)


MODELS = [ConsoleUser, LoginThrottle, ComplaintMessage]


def up(migrator, db):
    db.create_tables(MODELS)


def down(migrator, db):
    db.drop_tables(list(reversed(MODELS)))
