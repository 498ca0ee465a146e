"""Complaints: short references, the status lifecycle with its history, and the loop-closing question.

Status moves new → routed → answered → resolved → closed; any of the later ones can be reopened (back to
routed). The citizen behind a complaint is a pseudonymous contact; no number is stored here.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from storage.access import Principal, Scope, in_scope
from storage.db import BaseModel, database, utcnow
from storage.models import AdminUnit, Contact, ServicePoint
from storage.phones import mask_free_text

STATUSES = ("new", "routed", "answered", "resolved", "closed")
OPEN_STATUSES = ("new", "routed", "answered")
TRANSITIONS = {
    "new": ("routed", "answered", "resolved", "closed"),
    "routed": ("answered", "resolved", "closed"),
    "answered": ("resolved", "closed", "routed"),
    "resolved": ("closed", "routed"),
    "closed": ("routed",),
}
# Crockford's base32: no I, L, O or U, so 0/O and 1/I/L never clash; typing O or I still finds the complaint.
REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_PREFIX = "G-"
REF_WIDTH = 4


class ComplaintRef(BaseModel):
    """A reserved reference: the flow may show `G-0412` before the complaint row exists."""

    run_id = pw.IntegerField(null=True, unique=True)
    reserved_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "reserved_ref"  # "complaint_ref" is the name of Complaint.ref's index

    @property
    def ref(self) -> str:
        return encode_ref(self.id)


class Complaint(BaseModel):
    ref = pw.CharField(unique=True)
    contact = pw.ForeignKeyField(Contact, null=True, backref="complaints", on_delete="SET NULL")
    anonymous = pw.BooleanField(default=True)
    category = pw.CharField(index=True)
    admin_unit = pw.ForeignKeyField(AdminUnit, null=True, backref="complaints", on_delete="SET NULL")
    service_point = pw.ForeignKeyField(ServicePoint, null=True, backref="complaints", on_delete="SET NULL")
    landmark = pw.TextField(null=True)
    text = pw.TextField()
    redacted_text = pw.TextField(null=True)  # only this ever leaves the system (digests, CSO reports)
    sensitive = pw.BooleanField(default=False, index=True)  # restricted queue: admin and designated CSOs
    flagged = pw.BooleanField(default=False)  # the citizen said "not solved"
    channel = pw.CharField(default="sms")
    status = pw.CharField(default="new", index=True)
    due_at = pw.DateTimeField()
    created_at = pw.DateTimeField(default=utcnow, index=True)
    updated_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True, index=True)
    closed_at = pw.DateTimeField(null=True)
    reopened_count = pw.IntegerField(default=0)


class ComplaintEvent(BaseModel):
    complaint = pw.ForeignKeyField(Complaint, backref="events", on_delete="CASCADE")
    from_status = pw.CharField(null=True)
    to_status = pw.CharField()
    note = pw.TextField(null=True)
    actor = pw.CharField()  # token name, "cli", "citizen" or "system"
    at = pw.DateTimeField(default=utcnow)


class PendingQuestion(BaseModel):
    """A yes/no question we sent outside a flow (e.g. "G-0412 … Is it solved? 1 yes 2 no").

    The conversation layer asks `gateway.complaints.answer_pending` before matching keywords; the latest open
    question of a contact is the one a bare "1"/"2" answers.
    """

    contact = pw.ForeignKeyField(Contact, backref="pending_questions", on_delete="CASCADE")
    complaint = pw.ForeignKeyField(Complaint, backref="questions", on_delete="CASCADE")
    kind = pw.CharField(default="solved")
    note = pw.TextField(null=True)  # what staff reported, quoted in the question
    asked_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(index=True)
    answer = pw.CharField(null=True)  # yes | no
    answered_at = pw.DateTimeField(null=True)


MODELS = [ComplaintRef, Complaint, ComplaintEvent, PendingQuestion]


class ComplaintError(ValueError):
    """A status change that is not allowed; the message says why."""


def encode_ref(number: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, len(REF_ALPHABET))
        digits = REF_ALPHABET[rest] + digits
    return REF_PREFIX + digits.rjust(REF_WIDTH, "0")


def normalize_ref(typed: str) -> str:
    """`g-o412`, `G0412`, `gi4l2` → the canonical `G-0412` form (Crockford's decoding of look-alikes)."""
    body = typed.strip().upper().replace(" ", "")
    body = body[2:] if body.startswith(REF_PREFIX) else body[1:] if body.startswith("G") else body
    body = body.replace("O", "0").replace("I", "1").replace("L", "1").replace("-", "")
    return REF_PREFIX + body.rjust(REF_WIDTH, "0")


def reserve_ref(run_id: int | None = None) -> str:
    """A fresh reference; for a flow run the same one every time it is asked for."""
    if run_id is not None:
        existing = ComplaintRef.get_or_none(ComplaintRef.run_id == run_id)
        if existing:
            return existing.ref
        try:
            with database.atomic():
                return ComplaintRef.create(run_id=run_id).ref
        except pw.IntegrityError:
            return ComplaintRef.get(ComplaintRef.run_id == run_id).ref
    return ComplaintRef.create().ref


def create_complaint(*, category: str, text: str, contact: Contact | None, anonymous: bool, due_days: int,
                     admin_unit: AdminUnit | None = None, landmark: str | None = None, sensitive: bool = False,
                     channel: str = "sms", run_id: int | None = None) -> Complaint:
    now = utcnow()
    with database.atomic():
        complaint = Complaint.create(
            ref=reserve_ref(run_id), contact=contact, anonymous=anonymous, category=category,
            admin_unit=admin_unit, landmark=landmark, text=text, sensitive=sensitive, channel=channel,
            due_at=now + dt.timedelta(days=due_days), created_at=now, updated_at=now)
        ComplaintEvent.create(complaint=complaint, to_status="new", actor="citizen", at=now,
                              note="flagged sensitive by keyword" if sensitive else None)
    return complaint


def find(ref: str) -> Complaint | None:
    return Complaint.get_or_none(Complaint.ref == normalize_ref(ref))


def set_status(complaint: Complaint, status: str, note: str | None, actor: str) -> Complaint:
    """Move a complaint along its lifecycle, recording who did it and why."""
    if status not in TRANSITIONS.get(complaint.status, ()):
        raise ComplaintError(f"{complaint.ref} is {complaint.status}; it cannot become {status} "
                             f"(allowed: {', '.join(TRANSITIONS[complaint.status])})")
    now = utcnow()
    with database.atomic():
        reopening = complaint.status in ("resolved", "closed") and status == "routed"
        previous = complaint.status
        complaint.status, complaint.updated_at = status, now
        if status == "resolved":
            complaint.resolved_at = now
        if status == "closed":
            complaint.closed_at = now
        if reopening:
            complaint.reopened_count += 1
            complaint.resolved_at = complaint.closed_at = None
        complaint.save()
        ComplaintEvent.create(complaint=complaint, from_status=previous, to_status=status,
                              note=note, actor=actor, at=now)
    return complaint


def set_sensitive(complaint: Complaint, sensitive: bool, actor: str) -> None:
    with database.atomic():
        Complaint.update(sensitive=sensitive, updated_at=utcnow()).where(Complaint.id == complaint.id).execute()
        ComplaintEvent.create(complaint=complaint, from_status=complaint.status, to_status=complaint.status,
                              note="marked sensitive" if sensitive else "sensitive mark removed", actor=actor)
    complaint.sensitive = sensitive


def redact(complaint: Complaint, redacted_text: str, actor: str) -> None:
    with database.atomic():
        Complaint.update(redacted_text=redacted_text, updated_at=utcnow()).where(
            Complaint.id == complaint.id).execute()
        ComplaintEvent.create(complaint=complaint, from_status=complaint.status, to_status=complaint.status,
                              note="text redacted", actor=actor)
    complaint.redacted_text = redacted_text


def ask_if_solved(complaint: Complaint, note: str | None, hours: int) -> PendingQuestion:
    """Record the loop-closing question; an earlier unanswered one for the same complaint is superseded."""
    now = utcnow()
    PendingQuestion.update(expires_at=now).where(
        (PendingQuestion.complaint == complaint) & PendingQuestion.answered_at.is_null()).execute()
    return PendingQuestion.create(contact=complaint.contact, complaint=complaint, asked_at=now, note=note,
                                  expires_at=now + dt.timedelta(hours=hours))


def open_question_for(contact: Contact) -> PendingQuestion | None:
    return (PendingQuestion.select().where((PendingQuestion.contact == contact)
                                           & PendingQuestion.answered_at.is_null()
                                           & (PendingQuestion.expires_at > utcnow()))
            .order_by(PendingQuestion.asked_at.desc(), PendingQuestion.id.desc()).first())


def answer_question(question: PendingQuestion, solved: bool) -> Complaint:
    """"Yes" closes the complaint; "no" reopens and flags it."""
    complaint = question.complaint
    with database.atomic():
        question.answer, question.answered_at = ("yes" if solved else "no"), utcnow()
        question.save()
        if solved:
            if complaint.status == "resolved":
                set_status(complaint, "closed", "citizen confirmed it is solved", "citizen")
        else:
            if complaint.status in ("resolved", "closed"):
                set_status(complaint, "routed", "citizen says it is not solved", "citizen")
            Complaint.update(flagged=True).where(Complaint.id == complaint.id).execute()
            complaint.flagged = True
    return complaint


def reads_restricted(principal: Principal, restricted_readers: list[str]) -> bool:
    """Admins, and the CSO tokens named in `complaints.restricted_readers`, read the restricted queue."""
    return principal.at_least("admin") or (principal.role == "cso" and principal.name in restricted_readers)


def visible_to(complaint: Complaint | None, principal: Principal, restricted_readers: list[str]) -> bool:
    """Whether `principal` may read this complaint: in their scope, and staff (or a restricted reader for one in
    the restricted queue). Callers answer "not found" either way, so a reference cannot be probed."""
    return complaint is not None and principal.covers(complaint.admin_unit_id) and (
        reads_restricted(principal, restricted_readers) if complaint.sensitive else principal.at_least("staff"))


def list_complaints(*, status: str | None = None, include_sensitive: bool = False, sensitive_only: bool = False,
                    limit: int = 100, offset: int = 0, scope: Scope | None = None) -> list[Complaint]:
    """Newest first, only within `scope` (None: everywhere; a complaint with no unit is only in national scope)."""
    query = Complaint.select().order_by(Complaint.created_at.desc(), Complaint.id.desc())
    if scope is not None:
        query = query.where(in_scope(Complaint.admin_unit, scope))
    if status:
        query = query.where(Complaint.status == status)
    if sensitive_only:
        query = query.where(Complaint.sensitive == True)  # noqa: E712  (peewee expression)
    elif not include_sensitive:
        query = query.where(Complaint.sensitive == False)  # noqa: E712
    return list(query.limit(limit).offset(offset))


def complaint_view(complaint: Complaint, with_text: bool = True) -> dict:
    """What staff see: never a contact or a number."""
    unit = complaint.admin_unit
    view = {
        "ref": complaint.ref, "status": complaint.status, "category": complaint.category,
        "admin_unit": unit.code if unit else None, "landmark": mask_free_text(complaint.landmark) or None,
        "anonymous": complaint.anonymous, "sensitive": complaint.sensitive, "flagged": complaint.flagged,
        "channel": complaint.channel, "created_at": complaint.created_at.isoformat(),
        "due_at": complaint.due_at.isoformat(), "overdue": complaint.status in OPEN_STATUSES
        and complaint.due_at < utcnow(),
        "resolved_at": complaint.resolved_at.isoformat() if complaint.resolved_at else None,
        "reopened_count": complaint.reopened_count, "redacted_text": mask_free_text(complaint.redacted_text),
    }
    if with_text:
        view["text"] = mask_free_text(complaint.text)  # a number typed into the text is not shown either
        view["history"] = [{"at": e.at.isoformat(), "from": e.from_status, "to": e.to_status, "note": e.note,
                            "actor": e.actor} for e in complaint.events.order_by(ComplaintEvent.at, ComplaintEvent.id)]
    return view


def touch(complaint_id: int) -> None:
    Complaint.update(updated_at=utcnow()).where(Complaint.id == complaint_id).execute()
