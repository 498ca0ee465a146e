"""0010: per-channel state for failover and the phone watchdog. Frozen copy of storage.outbox.ChannelState."""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel, utcnow


class ChannelState(BaseModel):
    name = pw.CharField(primary_key=True)
    consecutive_failures = pw.IntegerField(default=0)
    down_until = pw.DateTimeField(null=True)
    last_error = pw.TextField(null=True)
    last_seen_at = pw.DateTimeField(null=True)
    last_health = pw.TextField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)


def up(migrator, db):
    db.create_tables([ChannelState])


def down(migrator, db):
    db.drop_tables([ChannelState])
