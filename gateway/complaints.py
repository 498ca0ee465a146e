"""Complaints from the `complaint` flow, staff status changes, and closing the loop with the citizen.

- `records: complaint` flows get a lazy `ref`: the reference is reserved only when a message prints it.
- A finished run becomes a Complaint; text with a sensitive keyword (corruption, bribes…) goes to the
  restricted queue that only admins (and designated CSO tokens) see.
- When staff mark a complaint resolved, the citizen is asked "G-0412: … Is it solved? 1 yes 2 no" through the
  bundled `complaint_followup` flow (started with `conversation.start_sms_flow`, queued in the outbox); its
  answer closes the complaint, or reopens and flags it.
"""
from __future__ import annotations

import logging

from flask import Flask

from flows.text import normalize
from gateway.clock import local_today
from gateway.logs import log_event
from gateway.records import completion_handler, context_provider
from storage import complaints as store
from storage import runs
from storage.contacts import number_of
from storage.models import AdminUnit, Contact, FlowRun

FOLLOWUP_FLOW = "complaint_followup"


class LazyRef:
    """Prints as a complaint reference, reserving it the first time it is printed (once per run)."""

    def __init__(self, run_id: int | None) -> None:
        self.run_id = run_id
        self._ref: str | None = None

    def __str__(self) -> str:
        if self._ref is None:
            self._ref = store.reserve_ref(self.run_id)
        return self._ref

    def __html__(self) -> str:  # markupsafe/jinja print through this when present
        return str(self)


@context_provider("complaint")
def complaint_context(app: Flask, contact: Contact, run: FlowRun | None) -> dict:
    return {"ref": LazyRef(run.id if run else None)}


@completion_handler("complaint")
def create_from_run(app: Flask, contact: Contact, run: FlowRun, results: dict) -> list[str] | None:
    values = {name: (r.get("value") if isinstance(r, dict) else r) for name, r in results.items()}
    text = str(values.get("description") or "").strip()
    landmark = str(values.get("landmark") or "").strip() or None
    complaint = store.create_complaint(
        category=str(values.get("category") or "other"), text=text, contact=contact,
        anonymous=str(values.get("anonymous") or "yes").lower() not in ("no", "false", "0"),
        admin_unit=_unit(app, values.get("unit")), landmark=None if landmark == "0" else landmark,
        sensitive=is_sensitive(app, f"{text} {landmark or ''}"), channel=run.channel,
        due_days=app.config["GATEWAY"]["complaints"]["due_days"], run_id=run.id)
    log_event("complaint.created", ref=complaint.ref, run=run.id, sensitive=complaint.sensitive)
    return None


def _unit(app: Flask, value: object) -> AdminUnit | None:
    code = value.get("code") if isinstance(value, dict) else value
    return runs.admin_unit_by_code(str(code), local_today(app)) if code else None


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
    from gateway.conversation import start_sms_flow
    from gateway.outbox import enqueue

    store.ask_if_solved(complaint, note, hours=app.config["GATEWAY"]["complaints"]["followup_hours"])
    try:
        texts = start_sms_flow(app, contact, FOLLOWUP_FLOW)
    except KeyError:
        log_event("complaint.followup_flow_missing", logging.ERROR, ref=complaint.ref)
        return False
    for number, text in enumerate(texts):
        enqueue(contact, text, purpose="loop_close", origin=f"complaint:{complaint.ref}",
                idempotency_key=f"complaint:{complaint.ref}:ask:{complaint.reopened_count}:{number}")
    return bool(texts)


@context_provider(FOLLOWUP_FLOW)
def followup_context(app: Flask, contact: Contact, run: FlowRun | None) -> dict:
    question = store.open_question_for(contact)
    if question is None:
        return {}
    note = question.note or ""
    return {"ref": question.complaint.ref, "note": {"mn": note, "en": note}}


@completion_handler(FOLLOWUP_FLOW)
def followup_answered(app: Flask, contact: Contact, run: FlowRun, results: dict) -> list[str] | None:
    answer = results.get("solved")
    value = answer.get("value") if isinstance(answer, dict) else answer
    question = store.open_question_for(contact)
    if question is None or value not in ("yes", "no"):
        return None
    complaint = store.answer_question(question, solved=value == "yes")
    log_event("complaint.citizen_answer", ref=complaint.ref, solved=value == "yes")
    return None
