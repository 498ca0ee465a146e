"""0051: a USSD session keeps the whole input history it answered; hops are recorded there, not one message each."""
from __future__ import annotations

import peewee as pw


def up(migrator, db):
    migrator.migrate(migrator.add_column("ussd_session", "history", pw.TextField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("ussd_session", "history"))
