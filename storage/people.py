"""A person's rights under Mongolia's Personal Data Protection Law (2021): a copy of what is held, and erasure.

`held_about(contact)` gathers everything kept about one person; `forget(contact)` erases their number, messages,
free texts and conversation runs. What they contributed to aggregates stays, so published counts do not change:
their scores and group, their yes/no to meetings, and that a complaint or a question existed (its text erased).
The contact row stays with a key no number can produce, so nothing can be traced back to them.
"""
from __future__ import annotations

from storage.complaints import Complaint, ComplaintRef, PendingQuestion
from storage.contacts import unlinkable_key
from storage.db import database, utcnow
from storage.digests import DigestSubscriber
from storage.meetings import ContactGroupMember, MeetingQuestion, Rsvp
from storage.models import Contact, FlowResult, FlowRun, Message, PhoneNumber
from storage.runs import UssdSession
from storage.scorecards import Reason, Respondent, Score

ERASED = "[устгасан / erased]"


def held_about(contact: Contact) -> dict:
    """Everything held about one person, as plain data (texts as stored: the caller decides how to show them)."""
    runs = list(FlowRun.select().where(FlowRun.contact == contact).order_by(FlowRun.id))
    results = {}
    for row in FlowResult.select().where(FlowResult.run.in_([r.id for r in runs])).order_by(FlowResult.id):
        results.setdefault(row.run_id, []).append({"name": row.name, "value": row.value})
    unit = contact.admin_unit
    return {
        "contact": {"created_at": contact.created_at, "last_seen_at": contact.last_seen_at,
                    "language": contact.language, "script": contact.script,
                    "admin_unit": unit.code if unit else None, "consent_at": contact.consent_at,
                    "consent_version": contact.consent_version, "consent_source": contact.consent_source,
                    "opted_out_at": contact.opted_out_at},
        "messages": [{"at": m.created_at, "direction": m.direction, "channel": m.channel, "text": m.text,
                      "status": m.status} for m in Message.select().where(Message.contact == contact)
                     .order_by(Message.created_at, Message.id)],
        "conversations": [{"flow": r.flow_id, "channel": r.channel, "status": r.status, "started_at": r.started_at,
                           "answers": results.get(r.id, [])} for r in runs],
        "complaints": [{"ref": c.ref, "category": c.category, "status": c.status, "created_at": c.created_at,
                        "text": c.text, "landmark": c.landmark, "anonymous": c.anonymous}
                       for c in Complaint.select().where(Complaint.contact == contact).order_by(Complaint.id)],
        "scores": [{"round": s.round_id, "indicator": s.indicator.code, "score": s.score, "at": s.scored_at}
                   for s in Score.select().where(Score.contact == contact).order_by(Score.id)],
        "groups_declared": [{"round": r.round_id, "group": r.group}
                            for r in Respondent.select().where(Respondent.contact == contact)],
        "reasons": [{"round": r.round_id, "text": r.text, "at": r.created_at}
                    for r in Reason.select().where(Reason.contact == contact)],
        "meeting_answers": [{"meeting": r.meeting_id, "answer": r.answer, "at": r.updated_at}
                            for r in Rsvp.select().where(Rsvp.contact == contact)],
        "meeting_questions": [{"meeting": q.meeting_id, "text": q.text, "at": q.created_at}
                              for q in MeetingQuestion.select().where(MeetingQuestion.contact == contact)],
        "digest_subscriptions": [{"label": s.label, "active": s.active}
                                 for s in DigestSubscriber.select().where(DigestSubscriber.contact == contact)],
    }


def forget(contact: Contact) -> dict[str, int]:
    """Erase one person (see the module's docstring). Returns how many of each thing went, for the audit log."""
    run_ids = [r.id for r in FlowRun.select(FlowRun.id).where(FlowRun.contact == contact)]
    with database.atomic():
        counts = {
            "number": PhoneNumber.delete().where(PhoneNumber.contact == contact).execute(),
            "messages": Message.delete().where(Message.contact == contact).execute(),
            "ussd_sessions": UssdSession.delete().where(UssdSession.contact == contact).execute(),
            "runs": FlowRun.delete().where(FlowRun.id.in_(run_ids)).execute() if run_ids else 0,
            "complaint_texts": Complaint.update(text=ERASED, landmark=None, contact=None, anonymous=True)
            .where(Complaint.contact == contact).execute(),
            "reasons": Reason.update(text=ERASED).where(Reason.contact == contact).execute(),
            "meeting_questions": MeetingQuestion.update(text=ERASED).where(MeetingQuestion.contact == contact)
            .execute(),
            "follow_ups": PendingQuestion.delete().where(PendingQuestion.contact == contact).execute(),
            "subscriptions": DigestSubscriber.delete().where(DigestSubscriber.contact == contact).execute(),
            "group_memberships": ContactGroupMember.delete().where(ContactGroupMember.contact == contact).execute(),
        }
        if run_ids:
            ComplaintRef.update(run_id=None).where(ComplaintRef.run_id.in_(run_ids)).execute()
        now = utcnow()
        Contact.update(key=unlinkable_key(), admin_unit=None, opted_out_at=now, last_seen_at=None,
                       consent_at=None, consent_version=None, consent_source=None, script=None,
                       last_script=None).where(Contact.id == contact.id).execute()
    return counts
