"""Leases: a row per name, held by one process until it expires, so a job runs once across processes."""
from __future__ import annotations

import datetime as dt

import peewee

from storage.db import database, utcnow
from storage.models import Lease


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


def holder_of(name: str) -> str | None:
    lease = Lease.get_or_none((Lease.name == name) & (Lease.expires_at >= utcnow()))
    return lease.holder if lease else None
