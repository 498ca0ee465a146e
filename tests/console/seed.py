"""Seeded data for console tests: known phone numbers everywhere a number could slip through.

Everything is made through the project's own functions: contacts with numbers in the vault, a complaint whose
text and landmark carry a number, a meeting question with a number, outbox rows and a provider error quoting the
number, a scorecard round with enough respondents to show, a contact group, a thread message, and a vote (open, every
contact voting, one from another unit) beside a draft.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import Flask

from gateway import complaint_thread, meetings
from gateway.outbox import enqueue
from storage import complaints as complaint_store
from storage import console as console_store
from storage import meetings as meeting_store
from storage import outbox as outbox_store
from storage import scorecards as score_store
from storage import votes as vote_store
from storage.contacts import contact_for_number
from storage.db import utcnow
from storage.models import AdminUnit, Contact
from tests.conftest import TEST_SECRET

# (8 local digits, unit): each becomes +976 and the digits
PEOPLE = [("99112233", "BGD-07"), ("88114455", "BGD-07"), ("95126677", "BGD-07"), ("99001122", "BGD-07"),
          ("80123344", "BGD-07"), ("91114567", "BGD-07"), ("94445566", "ZAV-IDER")]
TYPED_NUMBER = "99887766"  # typed by a citizen into free text: never a contact, still never shown


def written_forms(local: str) -> list[str]:
    """Every way a Mongolian mobile number is commonly written."""
    a, b = local[:4], local[4:]
    pairs = "-".join(local[i:i + 2] for i in range(0, 8, 2))
    return [f"+976{local}", f"976{local}", local, f"{a} {b}", f"{a}-{b}", f"976-{a}-{b}", pairs,
            f"+976 {a} {b}", f"+976-{a}-{b}", f"(+976) {a}{b}"]


@dataclass
class Seeded:
    contacts: list[Contact] = field(default_factory=list)
    complaint: complaint_store.Complaint | None = None
    sensitive: complaint_store.Complaint | None = None
    meeting: meeting_store.Meeting | None = None
    round: score_store.Round | None = None
    vote: vote_store.VoteRound | None = None
    draft_vote: vote_store.VoteRound | None = None

    @property
    def numbers(self) -> list[str]:
        return [local for local, _ in PEOPLE] + [TYPED_NUMBER]


def _unit(code: str) -> AdminUnit:
    return AdminUnit.get((AdminUnit.code == code) & AdminUnit.valid_to.is_null())


def seed(app: Flask) -> Seeded:
    """Call inside an app context with a database connection."""
    data = Seeded()
    for local, code in PEOPLE:
        contact, _ = contact_for_number(f"+976{local}", TEST_SECRET, admin_unit=_unit(code), consent_at=utcnow(),
                                        consent_version="test", consent_source="sms", script="cyrl")
        data.contacts.append(contact)
    citizen = data.contacts[0]
    data.complaint = complaint_store.create_complaint(
        category="water", text=f"Усны түгээгүүр хаалттай. {TYPED_NUMBER} руу залгаарай", contact=citizen,
        anonymous=False, due_days=30, admin_unit=_unit("BGD-07"), landmark=f"3-р байр, утас {TYPED_NUMBER}")
    data.sensitive = complaint_store.create_complaint(
        category="other", text="Захирал авлига авсан", contact=data.contacts[1], anonymous=True, due_days=30,
        admin_unit=_unit("BGD-07"), sensitive=True)
    complaint_thread.reply_to_complaint(app, data.complaint, "Баярлалаа, шалгаж байна.", "staff")
    console_store.add_thread_message(data.complaint.id, "in", f"Миний дугаар {TYPED_NUMBER}", "citizen")
    data.meeting = meetings.create_meeting(
        app, kind="inh", title_mn="Хорооны иргэдийн нийтийн хурал", title_en="Khoroo public meeting",
        place_mn="Хорооны байр", place_en="Khoroo office", starts_at=utcnow() + dt.timedelta(days=5),
        audience=["khoroo:BGD-07"], reminder_minutes=[120], created_by="staff")
    meeting_store.record_question(data.meeting, citizen.id, f"Намайг {TYPED_NUMBER} дугаараар холбогдоорой")
    meeting_store.record_rsvp(data.meeting, data.contacts[2].id, "yes")
    group = meeting_store.group_named("volunteers")
    meeting_store.add_to_group(group, [c.id for c in data.contacts[:3]])
    point = score_store.service_point("KG-BGD-07-1", admin_unit_code="BGD-07", kind="kindergarten",
                                      name_mn="7-р хорооны цэцэрлэг", name_en="Khoroo 7 kindergarten")
    data.round = score_store.create_round(point, [{"code": "A", "mn": "Цэвэрхэн", "en": "Clean"},
                                                  {"code": "B", "mn": "Ажилтан эелдэг", "en": "Staff polite"}])
    score_store.set_status(data.round, "open")
    for number, contact in enumerate(data.contacts[:6]):
        score_store.record_scores(data.round, contact, "women" if number % 2 else "men",
                                  {"A": 1 + number % 5, "B": 2}, reason=f"залга {TYPED_NUMBER}")
    seed_votes(data)
    failed = enqueue(data.contacts[3], "Сайн байна уу", purpose="reply")
    outbox_store.mark_failed(failed.id, f"Twilio 21211: The 'To' number +976{PEOPLE[3][0]} is not valid")
    outbox_store.record_send_failure("android", f"send to +976{PEOPLE[3][0]} failed", 99, 60)
    return data


VOTE_PROJECTS = [
    {"mn": "Гудамжны гэрэл", "en": "Street lights",
     "description": {"mn": "12-р гудамжинд 10 шон", "en": "10 lamp posts, street 12"}},
    {"mn": "Усны цэг", "en": "Water kiosk"},
    {"mn": "Цэцэрлэгийн хашаа", "en": "Kindergarten fence", "latn": "Tsetserlegiin hashaa"},
]


def seed_votes(data: Seeded) -> None:
    """An open vote of BGD-07 everyone voted in (3 women and 3 men: the group split is hidden; the Zavkhan voter
    counted apart), and a draft."""
    data.vote = vote_store.create_round(_unit("BGD-07"), VOTE_PROJECTS, max_choices=2, fund_amount=150_000_000,
                                        closes_on=dt.date(2026, 11, 30),
                                        next_steps={"mn": "12/5-нд ИНХ-аар батална.", "en": "On 5 Dec the INH decides"})
    vote_store.set_status(data.vote, "open")
    for number, contact in enumerate(data.contacts):
        away = contact.admin_unit_id != data.vote.admin_unit_id
        vote_store.record_vote(contact, vote_store.CastVote(data.vote.id, (1 + number % 3,),
                                                            "women" if number % 2 else "men", out_of_area=away))
    data.draft_vote = vote_store.create_round(_unit("BGD-07"), VOTE_PROJECTS[1:], fund_amount=20_000_000)
