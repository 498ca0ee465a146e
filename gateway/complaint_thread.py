"""The pseudonymous two-way thread between staff and the citizen behind a complaint.

Staff write in the console; the text goes to the citizen as SMS through the outbox (the number is looked up only
by the sending code). The citizen's next SMS answer comes back into the same thread. The conversation side is the
bundled `complaint_reply` flow: starting it sends the staff text as its question, so the citizen's answer resumes
that run and its completion handler files the answer here. STOP and the other reserved words still win.
"""
from __future__ import annotations

from flask import Flask

from flows.decision import Person
from flows.effects import RecordCitizenReply
from gateway.conversation import AppliedRun, start_sms_flow
from gateway.logs import log_event
from gateway.outbox import enqueue
from storage import complaints as complaint_store
from storage import console as store
from storage.contacts import number_of
from storage.phones import mask_phones_in

REPLY_FLOW = "complaint_reply"
MAX_REPLY = 480


class ThreadError(ValueError):
    """The citizen cannot be written to (anonymous with no contact, opted out…): the message says why."""


def can_reply(complaint: complaint_store.Complaint) -> bool:
    contact = complaint.contact
    return contact is not None and contact.reachable and number_of(contact) is not None


def reply_to_complaint(app: Flask, complaint: complaint_store.Complaint, text: str,
                       actor: str) -> store.ComplaintMessage:
    """Queue staff's `text` to the citizen and wait for their answer. Raises ThreadError when they cannot be reached."""
    text = " ".join((text or "").split())
    if not text or len(text) > MAX_REPLY:
        raise ThreadError(f"the reply must be 1 to {MAX_REPLY} characters")
    if not can_reply(complaint):
        raise ThreadError("the citizen cannot be reached: no contact, or they opted out")
    if app.extensions["gateway.flows"].get(REPLY_FLOW) is None:
        raise ThreadError(f"the {REPLY_FLOW} flow is not loaded")
    entry = store.add_thread_message(complaint.id, "out", text, actor)
    texts = start_sms_flow(app, complaint.contact.id, REPLY_FLOW)
    rows = [enqueue(complaint.contact, body, purpose="loop_close", origin=f"complaint:{complaint.ref}",
                    idempotency_key=f"complaint:{complaint.ref}:reply:{entry.id}:{number}")
            for number, body in enumerate(texts)]
    if rows:
        store.link_thread_message(entry, rows[0])
    log_event("complaint.reply_sent", ref=complaint.ref, actor=actor, parts=len(rows))
    return entry


def reply_data(app: Flask, person: Person) -> dict:
    """`ref` and `message` for the reply flow's question: staff's latest message to this person."""
    entry = store.latest_out_thread_message(person.id)
    if entry is None:
        return {"ref": "", "message": {"mn": "", "en": ""}}
    complaint = complaint_store.Complaint.get_by_id(entry.complaint_id)
    return {"ref": complaint.ref, "message": {"mn": entry.text, "en": entry.text}}


def record_citizen_reply(app: Flask, source: AppliedRun, effect: RecordCitizenReply) -> None:
    """The citizen's answer goes into the thread of the complaint staff last wrote to them about."""
    entry = store.latest_out_thread_message(source.contact_id)
    if entry is None:
        return
    store.add_thread_message(entry.complaint_id, "in", mask_phones_in(effect.text), "citizen")
    complaint_store.touch(entry.complaint_id)
    log_event("complaint.citizen_replied", complaint=entry.complaint_id)
