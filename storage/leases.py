"""Leases: a row per name, held by one process until it expires, so a job runs once across processes. And when
each job last ran, so a scheduled run missed while the service was down is made up once after a restart."""
from __future__ import annotations

import datetime as dt

import peewee
import peewee as pw

from storage.db import BaseModel, database, utcnow
from storage.models import Lease


class JobRun(BaseModel):
    """Scheduled times up to `covered_until` (naive UTC) are accounted for: the job ran then, or started watching."""

    name = pw.CharField(primary_key=True)
    covered_until = pw.DateTimeField()


def acquire(name: str, holder: str, seconds: int) -> bool:
    """Take or renew the lease `name` for `holder`; False while another live holder has it."""
    now = utcnow()
    expires = now + dt.timedelta(seconds=seconds)
    renewed = (Lease.update(holder=holder, expires_at=expires)
               .where((Lease.name == name) & ((Lease.holder == holder) | (Lease.expires_at < now)))
               .execute())
    if renewed:
        return True
    try:
        with database.atomic():
            Lease.insert(name=name, holder=holder, expires_at=expires).execute()
        return True
    except peewee.IntegrityError:
        return False


def release(name: str, holder: str) -> None:
    Lease.delete().where((Lease.name == name) & (Lease.holder == holder)).execute()


def covered_until(name: str) -> dt.datetime | None:
    run = JobRun.get_or_none(JobRun.name == name)
    return run.covered_until if run else None


def cover(name: str, until: dt.datetime) -> None:
    """Record that the job's scheduled times up to `until` are done (never moves back)."""
    updated = (JobRun.update(covered_until=until)
               .where((JobRun.name == name) & (JobRun.covered_until < until)).execute())
    if not updated and covered_until(name) is None:
        try:
            with database.atomic():
                JobRun.insert(name=name, covered_until=until).execute()
        except peewee.IntegrityError:
            cover(name, until)


def holder_of(name: str) -> str | None:
    lease = Lease.get_or_none((Lease.name == name) & (Lease.expires_at >= utcnow()))
    return lease.holder if lease else None


def live_holder(name: str) -> str | None:
    """Like `holder_of`, but None on a database without the lease table yet (a fresh one, about to be restored)."""
    try:
        with database.atomic():
            return holder_of(name)
    except peewee.DatabaseError:
        return None
