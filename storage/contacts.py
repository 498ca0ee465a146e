"""Contacts and the phone-number vault."""
from __future__ import annotations

import secrets

import peewee

from storage.db import database, utcnow
from storage.models import Contact, OptOutTombstone, PhoneNumber
from storage.outbox import cancel_pending_bulk
from storage.phones import contact_key


def contact_for_number(e164: str, secret: str, **defaults) -> tuple[Contact, bool]:
    """The contact behind an E.164 number, created (with its vault row) on first sight. Returns (contact, created).
    `secret` is the pseudonymisation key (`gateway.secrets.pseudonym_key(app)`)."""
    key = contact_key(e164, secret)
    contact = Contact.get_or_none(Contact.key == key)
    if contact is not None:
        return contact, False
    try:
        with database.atomic():
            stopped = OptOutTombstone.get_or_none(OptOutTombstone.key == key)  # retention kept only their STOP
            if stopped is not None:
                defaults = {**defaults, "opted_out_at": stopped.opted_out_at}
                stopped.delete_instance()
            contact = Contact.create(key=key, **defaults)
            PhoneNumber.create(contact=contact, e164=e164)
        return contact, True
    except peewee.IntegrityError:  # another request created it first (or the number is held under another key)
        return Contact.get_or_none(Contact.key == key) or _held_under(e164), False


def _held_under(e164: str) -> Contact:
    """A key that does not match must never lose a message or a STOP: the vault still knows the number."""
    contact = contact_by_number(e164)
    if contact is None:
        raise LookupError("the contact was created and removed at the same moment")
    return contact


def key_sample() -> tuple[str, str] | None:
    """(contact key, E.164) of the newest contact whose number is held: proof of which key contacts were made with."""
    if "phone_number" not in database.get_tables():
        return None
    row = (PhoneNumber.select(PhoneNumber.e164, Contact.key).join(Contact)
           .order_by(PhoneNumber.id.desc()).tuples().first())
    return (row[1], row[0]) if row else None


def rekey(new_secret: str, batch: int = 1000) -> int:
    """Move every contact whose number is held to the key HMAC(new_secret, number), in one transaction.
    Contacts without a number (forgotten, or unmapped by retention) already carry a random key. Returns how many."""
    moved = 0
    with database.atomic():
        last_id = 0
        while True:
            rows = list(PhoneNumber.select(PhoneNumber.id, PhoneNumber.contact, PhoneNumber.e164)
                        .where(PhoneNumber.id > last_id).order_by(PhoneNumber.id).limit(batch).tuples())
            if not rows:
                return moved
            for _, contact_id, e164 in rows:
                Contact.update(key=contact_key(e164, new_secret)).where(Contact.id == contact_id).execute()
            moved += len(rows)
            last_id = rows[-1][0]


def unlinkable_key() -> str:
    """A key no number can produce: for a contact whose number is erased, so the number cannot find it again."""
    return "x" + secrets.token_hex(31)


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


def contact_by_number(e164: str) -> Contact | None:
    """The contact the vault holds `e164` for (the person's own requests: a copy of their data, erasure)."""
    return Contact.select().join(PhoneNumber).where(PhoneNumber.e164 == e164).first()
