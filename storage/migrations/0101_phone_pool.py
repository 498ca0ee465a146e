"""0101: the Android phone pool. An outbox row remembers which phone of the pool it is assigned to (`phone`, the
phone's channel-state name), so a dispatcher can skip the rows of a phone that is at its rate."""
from __future__ import annotations

import peewee as pw


def up(migrator, db):
    migrator.migrate(migrator.add_column("message", "phone", pw.CharField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("message", "phone"))
