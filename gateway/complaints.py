"""Complaints from the `complaint` flow, staff status changes, and closing the loop with the citizen.

- A finished `records: complaint` run becomes a Complaint (its reference was reserved as an effect when the
  last message printed it); text with a sensitive keyword (corruption, bribes…) goes to the restricted queue
  that only admins (and designated CSO tokens) see.
- When staff mark a complaint resolved, the citizen is asked "G-0412: … Is it solved? 1 yes 2 no" through the
  bundled `complaint_followup` flow (started with `conversation.start_sms_flow`, queued in the outbox); its
  answer closes the complaint, or reopens and flags it.
"""
from __future__ import annotations

import logging

from flask import Flask

from flows.decision import Person
from flows.effects import RecordComplaint, RecordFollowup
from flows.text import normalize
from gateway.clock import local_today
from gateway.conversation import AppliedRun, start_sms_flow
from gateway.logs import log_event
from gateway.outbox import enqueue
from storage import complaints as store
from storage import runs
from storage.contacts import number_of
from storage.models import AdminUnit

FOLLOWUP_FLOW = "complaint_followup"


def record_complaint(app: Flask, source: AppliedRun, effect: RecordComplaint) -> None:
    """A finished complaint run becomes a Complaint; a sensitive text goes to the restricted queue."""
    complaint = store.create_complaint(
        category=effect.category, text=effect.description, contact=source.contact_id, anonymous=effect.anonymous,
        admin_unit=_unit(app, effect.unit), landmark=effect.landmark,
        sensitive=is_sensitive(app, f"{effect.description} {effect.landmark or ''}"), channel=source.channel,
        due_days=app.config["GATEWAY"]["complaints"]["due_days"], run_id=source.run_id)
    log_event("complaint.created", ref=complaint.ref, run=source.run_id, sensitive=complaint.sensitive)


def _unit(app: Flask, code: str | None) -> AdminUnit | None:
    return runs.admin_unit_by_code(code, local_today(app)) if code else None


def is_sensitive(app: Flask, text: str) -> bool:
    """True when a word of `text` starts with a configured keyword, in either script (inflections match)."""
    words = normalize(text).split()
    keywords = [normalize(k) for k in app.config["GATEWAY"]["complaints"]["sensitive_keywords"]]
    return any(all(any(w.startswith(_stem(part)) for w in words) for part in key.split()) for key in keywords if key)


def _stem(word: str) -> str:
    """Mongolian suffixes often replace a final vowel (авлига → авлигын): match without it."""
    return word[:-1] if len(word) >= 5 and word[-1] in "aeiou" else word


# --- staff actions -------------------------------------------------------------------------------------------


def change_status(app: Flask, complaint: store.Complaint, status: str, note: str | None, actor: str) -> bool:
    """Apply a staff status change; on "resolved" ask the citizen whether it is solved. Returns whether asked."""
    store.set_status(complaint, status, note, actor)
    log_event("complaint.status", ref=complaint.ref, status=status, actor=actor)
    return ask_if_solved(app, complaint, note) if status == "resolved" else False


def ask_if_solved(app: Flask, complaint: store.Complaint, note: str | None) -> bool:
    """Queue the loop-closing question (skipped for people who opted out or cannot be reached)."""
    contact = complaint.contact
    if contact is None or not contact.reachable or number_of(contact) is None:
        return False
    if app.extensions["gateway.flows"].get(FOLLOWUP_FLOW) is None:
        log_event("complaint.followup_flow_missing", logging.ERROR, ref=complaint.ref)
        return False
    store.ask_if_solved(complaint, note, hours=app.config["GATEWAY"]["complaints"]["followup_hours"])
    texts = start_sms_flow(app, contact.id, FOLLOWUP_FLOW)
    for number, text in enumerate(texts):
        enqueue(contact, text, purpose="loop_close", origin=f"complaint:{complaint.ref}",
                idempotency_key=f"complaint:{complaint.ref}:ask:{complaint.reopened_count}:{number}")
    return bool(texts)


def followup_data(app: Flask, person: Person) -> dict:
    """`ref` and `note` for the follow-up question: the complaint this person was last asked about."""
    question = store.open_question_for(person.id)
    if question is None:
        return {}
    note = question.note or ""
    return {"ref": question.complaint.ref, "note": {"mn": note, "en": note}}


def record_followup(app: Flask, source: AppliedRun, effect: RecordFollowup) -> None:
    question = store.open_question_for(source.contact_id)
    if question is None:
        return
    complaint = store.answer_question(question, solved=effect.solved)
    log_event("complaint.citizen_answer", ref=complaint.ref, solved=effect.solved)
