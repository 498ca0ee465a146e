"""Helpers for the meeting and broadcast tests: local times, and contacts placed in admin units."""
from __future__ import annotations

import datetime as dt

from storage.contacts import contact_for_number
from storage.db import utcnow
from storage.models import AdminUnit, Contact
from tests.conftest import TEST_SECRET

UB = dt.timezone(dt.timedelta(hours=8))


def at_local(year, month, day, hour=0, minute=0, second=0) -> dt.datetime:
    """An aware Ulaanbaatar time (Mongolia keeps +08:00 all year), for time-machine."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UB)


def utc_of(local: dt.datetime) -> dt.datetime:
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def unit(code: str) -> AdminUnit:
    return AdminUnit.get((AdminUnit.code == code) & AdminUnit.valid_to.is_null())


def add_contacts(n: int, unit_code: str, *, start: int = 0, language: str = "mn", script: str | None = None,
                 consent: bool = True, prefix: str = "9911") -> list[Contact]:
    """`n` contacts with real-looking Mongolian mobile numbers, placed in `unit_code`."""
    place = unit(unit_code)
    made = []
    for i in range(start, start + n):
        contact, _ = contact_for_number(f"+976{prefix}{i:04d}", TEST_SECRET, language=language, script=script,
                                        admin_unit=place, consent_at=utcnow() if consent else None,
                                        consent_version="test" if consent else None,
                                        consent_source="sms" if consent else None)
        made.append(contact)
    return made
