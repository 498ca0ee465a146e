"""0061: the opt-outs retention keeps after deleting a number (storage.retention). Frozen model."""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel


class OptOutTombstone(BaseModel):
    key = pw.CharField(unique=True)
    opted_out_at = pw.DateTimeField()


def up(migrator, db):
    db.create_tables([OptOutTombstone])


def down(migrator, db):
    db.drop_tables([OptOutTombstone])
