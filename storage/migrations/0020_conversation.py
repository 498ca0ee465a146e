"""0020: USSD sessions, and at most one active SMS run per contact."""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel, utcnow


class Contact(BaseModel):  # frozen stub: only the key the foreign key needs
    class Meta:
        table_name = "contact"


class FlowRun(BaseModel):
    class Meta:
        table_name = "flow_run"


class UssdSession(BaseModel):
    session_key = pw.CharField(unique=True)
    contact = pw.ForeignKeyField(Contact, backref="ussd_sessions", on_delete="CASCADE")
    channel = pw.CharField()
    stage = pw.CharField(default="menu")
    page = pw.IntegerField(default=0)
    consumed = pw.IntegerField(default=0)
    run = pw.ForeignKeyField(FlowRun, null=True, backref="ussd_sessions", on_delete="SET NULL")
    screen = pw.TextField(null=True)
    screen_end = pw.BooleanField(default=False)
    version = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow, index=True)


ONE_ACTIVE_SMS_RUN = ("CREATE UNIQUE INDEX flow_run_one_active_sms ON flow_run (contact_id) "
                      "WHERE status = 'active' AND channel = 'sms'")


def up(migrator, db):
    db.create_tables([UssdSession])
    db.execute_sql(ONE_ACTIVE_SMS_RUN)


def down(migrator, db):
    db.execute_sql("DROP INDEX IF EXISTS flow_run_one_active_sms")
    db.drop_tables([UssdSession])
