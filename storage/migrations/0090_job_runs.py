"""0090: when each scheduled job last ran, so a job missed while the service was down runs once after a restart.
Frozen copy of storage.leases.JobRun."""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel


class JobRun(BaseModel):
    name = pw.CharField(primary_key=True)
    covered_until = pw.DateTimeField()


def up(migrator, db):
    db.create_tables([JobRun])


def down(migrator, db):
    db.drop_tables([JobRun])
