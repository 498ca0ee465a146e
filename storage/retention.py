"""Deleting what is past its retention period (Personal Data Protection Law).

After `message_days`: message bodies (the messages themselves, unless still on their way out).
After `run_days`: finished conversation runs and what they saved.
After `free_text_days`: complaint texts and landmarks (unless the complaint is still open), scorecard reasons and
meeting questions; staff-redacted texts stay, as do the counts.
After `contact_days` without a message either way: the number-to-contact mapping. The number is deleted and the
contact's key replaced by one no number can produce, so the person's past can no longer be found from their number;
if they text again they start afresh. Someone who had said STOP keeps only that: their key in `opt_out_tombstone`,
so an imported list cannot sign them up again (a tombstone cannot follow a `gateway contacts rekey`).
"""
from __future__ import annotations

import datetime as dt

from storage.complaints import OPEN_STATUSES, Complaint
from storage.contacts import unlinkable_key
from storage.db import database, utcnow
from storage.digests import DigestSubscriber
from storage.meetings import MeetingQuestion
from storage.models import Contact, FlowRun, Message, OptOutTombstone, PhoneNumber
from storage.scorecards import Reason

FINISHED_RUN_STATES = ("completed", "interrupted", "expired", "failed")
ERASED = "[устгасан / erased]"


def purge(message_days: int, run_days: int, free_text_days: int | None = None,
          contact_days: int | None = None) -> dict[str, int]:
    """Delete or erase everything past its period; returns how many of each (never what)."""
    now = utcnow()

    def before(days: int) -> dt.datetime:
        return now - dt.timedelta(days=days)

    with database.atomic():
        counts = {
            "messages": Message.delete().where((Message.created_at < before(message_days))
                                               & Message.status.not_in(("queued", "sending"))).execute(),
            "runs": FlowRun.delete().where((FlowRun.updated_at < before(run_days))
                                           & FlowRun.status.in_(FINISHED_RUN_STATES)).execute(),
        }
        if free_text_days is not None:
            counts.update(_erase_free_texts(before(free_text_days)))
        if contact_days is not None:
            counts["numbers"] = _unmap_inactive(before(contact_days))
    return counts


def _erase_free_texts(cutoff: dt.datetime) -> dict[str, int]:
    closed_old = (Complaint.status.not_in(OPEN_STATUSES) & (Complaint.updated_at < cutoff)
                  & ((Complaint.text != ERASED) | Complaint.landmark.is_null(False)))
    return {
        "complaint_texts": Complaint.update(text=ERASED, landmark=None).where(closed_old).execute(),
        "reasons": Reason.update(text=ERASED).where((Reason.created_at < cutoff) & (Reason.text != ERASED)).execute(),
        "meeting_questions": MeetingQuestion.update(text=ERASED).where(
            (MeetingQuestion.created_at < cutoff) & (MeetingQuestion.text != ERASED)).execute(),
    }


def _unmap_inactive(cutoff: dt.datetime) -> int:
    """Drop the number of everyone with no message in or out since `cutoff` who was first seen before it, except
    active digest subscribers (they are texted weekly) and anyone with an open complaint awaiting an answer."""
    recent = Message.select(Message.contact).where((Message.created_at >= cutoff) & Message.contact.is_null(False))
    subscribed = DigestSubscriber.select(DigestSubscriber.contact).where(DigestSubscriber.active)
    waiting = Complaint.select(Complaint.contact).where(Complaint.status.in_(OPEN_STATUSES)
                                                        & Complaint.contact.is_null(False))
    inactive = list(Contact.select(Contact.id, Contact.key, Contact.opted_out_at).join(PhoneNumber).where(
        (Contact.created_at < cutoff) & ((Contact.last_seen_at < cutoff) | Contact.last_seen_at.is_null())
        & Contact.id.not_in(recent) & Contact.id.not_in(subscribed) & Contact.id.not_in(waiting)))
    if inactive:
        PhoneNumber.delete().where(PhoneNumber.contact.in_([c.id for c in inactive])).execute()
    for contact in inactive:
        if contact.opted_out_at is not None:
            # Their STOP must outlive their data, so an imported list cannot sign them up again; nothing of their
            # past can be reached from the number any more.
            OptOutTombstone.insert(key=contact.key, opted_out_at=contact.opted_out_at).on_conflict_ignore().execute()
        Contact.update(key=unlinkable_key()).where(Contact.id == contact.id).execute()
    return len(inactive)
