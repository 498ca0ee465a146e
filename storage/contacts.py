"""Contacts and the phone-number vault."""
from __future__ import annotations

import peewee

from storage.db import database, utcnow
from storage.models import Contact, PhoneNumber
from storage.outbox import cancel_pending_bulk
from storage.phones import contact_key


def contact_for_number(e164: str, secret: str, **defaults) -> tuple[Contact, bool]:
    """The contact behind an E.164 number, created (with its vault row) on first sight. Returns (contact, created)."""
    key = contact_key(e164, secret)
    contact = Contact.get_or_none(Contact.key == key)
    if contact is not None:
        return contact, False
    try:
        with database.atomic():
            contact = Contact.create(key=key, **defaults)
            PhoneNumber.create(contact=contact, e164=e164)
        return contact, True
    except peewee.IntegrityError:  # another request created it first
        return Contact.get(Contact.key == key), False


def number_of(contact: Contact | int) -> str | None:
    """Only the sending code calls this: staff-facing code never needs a number."""
    row = PhoneNumber.get_or_none(PhoneNumber.contact == contact)
    return row.e164 if row else None


def opt_out(contact: Contact) -> None:
    """Stop all bulk to this person, including what of a running broadcast is still queued for them."""
    Contact.update(opted_out_at=utcnow()).where(Contact.id == contact.id).execute()
    contact.opted_out_at = utcnow()
    cancel_pending_bulk(contact.id)


def opt_in(contact: Contact, version: str, source: str) -> None:
    now = utcnow()
    Contact.update(opted_out_at=None, consent_at=now, consent_version=version, consent_source=source).where(
        Contact.id == contact.id).execute()
    contact.opted_out_at, contact.consent_at, contact.consent_version = None, now, version
