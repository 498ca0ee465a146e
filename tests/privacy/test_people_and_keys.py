"""End to end on SQLite and PostgreSQL: the pseudonymisation key (its own secret, rekey, a changed secret key),
a person's copy and erasure, and the retention purge."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from gateway.config import ConfigError
from gateway.scheduler import run_job
from gateway.secrets import pseudonym_key
from storage import complaints, scorecards
from storage.contacts import contact_for_number
from storage.db import database, utcnow
from storage.meetings import Meeting, MeetingQuestion, Rsvp
from storage.models import AuditLog, Contact, FlowRun, Message, PhoneNumber
from storage.phones import contact_key
from tests.privacy.conftest import SECRET_A, SECRET_B, phone

NUMBER = "+97699112233"
WRITTEN = ["99112233", "9911 2233", "9911-2233", "97699112233", "+976 9911 2233"]
COMPLAINT = ("gomdol", "1", "Bagakhangai", "1", "12-r heseg", "us tugeeh bair haaltai, 9911 2233 ruu zalga", "1")


def contacts(app) -> list[tuple[int, str]]:
    with app.app_context(), database.connection_context():
        return sorted((c.id, c.key) for c in Contact.select())


def test_the_pseudonym_key_is_its_own_secret_and_a_new_secret_key_breaks_nothing(start, tmp_path, caplog):
    first = start(SECRET_A)
    key_file = tmp_path / "instance" / "pseudonym_key"
    assert key_file.exists() and "Back this file up" in caplog.text
    assert pseudonym_key(first) != first.config["SECRET_KEY"]
    assert "STOP" not in phone(first, NUMBER).send_sms("help")[0]
    known = contacts(first)

    second = start(SECRET_B)  # production sets GATEWAY_SECRET_KEY, as the quick start's warning says
    assert pseudonym_key(second) == pseudonym_key(first)
    replies = phone(second, NUMBER).send_sms("STOP")
    assert replies and contacts(second) == known  # the same person, not a new one
    with second.app_context(), database.connection_context():
        assert Contact.get_by_id(known[0][0]).opted_out_at is not None
        assert Message.select().where(Message.status == "failed").count() == 0


def test_contacts_made_with_the_old_secret_key_are_kept(start, make_app, tmp_path):
    """A database from before the keys were apart: its contacts were keyed with the secret key."""
    app = make_app(secret_key=SECRET_A, pseudonym_key=SECRET_A)  # what the old code did
    (tmp_path / "instance" / "pseudonym_key").unlink(missing_ok=True)
    with app.app_context(), database.connection_context():
        contact, _ = contact_for_number(NUMBER, SECRET_A)
    upgraded = start(SECRET_A)
    assert pseudonym_key(upgraded) == SECRET_A  # kept, now in its own file
    moved_on = start(SECRET_B)
    phone(moved_on, NUMBER).send_sms("STOP")
    assert [c[0] for c in contacts(moved_on)] == [contact.id]


def test_a_wrong_key_stops_the_start_with_one_clear_line(start, make_app, monkeypatch):
    phone(start(), NUMBER).send_sms("help")
    monkeypatch.setenv("GATEWAY_PSEUDONYM_KEY", "some-other-key-0123456789")
    with pytest.raises(ConfigError, match="not the one this database's contacts were made with"):
        make_app()


def test_rekey_moves_everyone_and_nobody_is_lost(start, run, tmp_path):
    app = start()
    numbers = [f"+9769911{n:04d}" for n in range(5)]
    for number in numbers:
        phone(app, number).send_sms("help")
    before = contacts(app)
    old_key = pseudonym_key(app)

    result = run("contacts", "rekey", "--yes")
    assert result.exit_code == 0, result.output
    assert "moved 5 contacts" in result.output and "Back this file up" in result.output
    new_key = (tmp_path / "instance" / "pseudonym_key").read_text().strip()
    assert new_key != old_key and not (tmp_path / "instance" / "pseudonym_key.new").exists()

    again = start()
    assert pseudonym_key(again) == new_key
    with again.app_context(), database.connection_context():
        for row in PhoneNumber.select():
            assert Contact.get_by_id(row.contact_id).key == contact_key(row.e164, new_key)
        assert AuditLog.get(AuditLog.action == "contacts.rekey").detail == "contacts=5"
    for number in numbers:
        phone(again, number).send_sms("STOP")
    assert [c[0] for c in contacts(again)] == [c[0] for c in before]  # every one of them recognised
    assert all(n not in result.output for n in numbers)


def test_an_interrupted_rekey_is_finished_at_the_next_start(start, tmp_path):
    from storage.contacts import rekey

    app = start()
    phone(app, NUMBER).send_sms("help")
    pending = tmp_path / "instance" / "pseudonym_key.new"
    pending.write_text("n" * 64)
    with app.app_context(), database.connection_context():
        rekey("n" * 64)  # the database moved, then the process died before the file did
    assert pseudonym_key(start()) == "n" * 64 and not pending.exists()


def person_with_a_history(app, number: str = NUMBER):
    """A person who complained (a number in the text), scored a round and asked a meeting question."""
    citizen = phone(app, number)
    for text in COMPLAINT:
        citizen.send_sms(text)
    with app.app_context(), database.connection_context():
        contact, _ = contact_for_number(number, pseudonym_key(app))
        point = scorecards.service_point("KG7", admin_unit_code="BKhD-01", kind="school", name_mn="Сургууль")
        round_ = scorecards.create_round(point, [{"code": "A", "mn": "А", "en": "A"}])
        scorecards.set_status(round_, "open")
        scorecards.record_scores(round_, contact, "women", {"A": 4}, reason="багш 8811 2233 руу залгаарай")
        meeting = Meeting.create(kind="inh", title_mn="ИНХ", place_mn="Хороо", starts_at=utcnow(), audience=[],
                                 reminder_minutes=[])
        MeetingQuestion.create(meeting=meeting, contact=contact, text="Намайг 99112233 дугаарт залгана уу")
        Rsvp.create(meeting=meeting, contact=contact, answer="yes")
        return contact.id, round_.id


def test_export_gives_the_person_a_copy_in_mongolian_and_english(start, run):
    app = start()
    person_with_a_history(app)
    result = run("contacts", "export", "99-11-22-33")
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("Таны тухай хадгалсан мэдээлэл / What is held about you")
    for heading in ("Мессежүүд / Messages", "Гомдол / Complaints", "Үнэлгээний оноо / Scorecard scores",
                    "Уулзалтын асуулт / Meeting questions", "Хүний хувийн мэдээлэл хамгаалах тухай хууль"):
        assert heading in text
    assert "us tugeeh bair haaltai" in text and "G-0001" in text and "round 1, A: 4" in text
    assert not any(written in text for written in WRITTEN + ["88112233", "8811 2233"])  # masked, even here
    as_json = json.loads(run("contacts", "export", NUMBER, "--json").output)
    assert as_json["scores"][0]["score"] == 4 and as_json["meeting_answers"][0]["answer"] == "yes"
    with app.app_context(), database.connection_context():
        entries = list(AuditLog.select().where(AuditLog.action == "contact.export"))
        assert len(entries) == 2 and all("9911" not in f"{e.target}{e.detail}{e.actor}" for e in entries)
    assert run("contacts", "export", "+97688000000").exit_code != 0  # no one held: says so, nothing else


@pytest.fixture
def frozen():
    """The whole test on one clock, mid-week, so its data and its digest week never straddle a Monday."""
    with time_machine.travel(dt.datetime(2026, 11, 18, 4, 0, tzinfo=dt.UTC), tick=True):
        yield


def test_forget_erases_the_person_and_the_counts_stay(frozen, start, run):
    from gateway.clock import week_of
    from storage.digests import build_digest

    app = start()
    contact_id, round_id = person_with_a_history(app)
    week = week_of(utcnow().date(), "Asia/Ulaanbaatar")  # a fixed Wednesday noon (the `frozen` fixture)

    def tallies():
        with app.app_context(), database.connection_context():
            digest = build_digest(week)
            return (digest["complaints"], [s["respondents"] for s in digest["scorecards"]],
                    scorecards.Score.select().count(), Rsvp.select().count(), MeetingQuestion.select().count(),
                    complaints.Complaint.select().count())

    before = tallies()
    result = run("contacts", "forget", "9911-2233", "--yes")
    assert result.exit_code == 0, result.output
    assert tallies() == before  # aggregates keep their counts
    with app.app_context(), database.connection_context():
        assert PhoneNumber.select().count() == 0 and Message.select().count() == 0 and FlowRun.select().count() == 0
        complaint = complaints.Complaint.get()
        assert complaint.contact_id is None and "haaltai" not in complaint.text and complaint.landmark is None
        assert "8811" not in scorecards.Reason.get().text and "99112233" not in MeetingQuestion.get().text
        contact = Contact.get_by_id(contact_id)
        assert contact.key != contact_key(NUMBER, pseudonym_key(app)) and contact.admin_unit_id is None
        entry = AuditLog.get(AuditLog.action == "contact.forget")
        assert entry.target == f"contact:{contact_id}" and "9911" not in f"{entry.detail}{entry.actor}"
    assert not any(written in result.output for written in WRITTEN)
    phone(app, NUMBER).send_sms("help")  # texting again: a new person, with nothing of the old one
    assert len(contacts(app)) == 2
    assert run("contacts", "forget", "99112233", "--yes").exit_code == 0  # and can be forgotten too


def test_retention_deletes_exactly_what_is_past_its_time(start):
    app = start(retention={"message_days": 30, "run_days": 60, "free_text_days": 90, "contact_days": 180})
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=200)
    with time_machine.travel(long_ago, tick=False):
        person_with_a_history(app, "+97699110001")  # complaint stays open
        old_closed, _ = complaint_by("+97699110002", app)
    with time_machine.travel(long_ago + dt.timedelta(days=1), tick=False), app.app_context(), \
            database.connection_context():
        complaints.set_status(complaints.find(old_closed), "closed", None, "staff")
        phone(app, "+97699110004").send_sms("STOP")  # said STOP long ago
    recent = phone(app, "+97699110003")
    recent.send_sms("help")
    with app.app_context(), database.connection_context():
        counts = run_job(app, "retention.purge")
        kept_numbers = sorted(p.e164 for p in PhoneNumber.select())
        open_one = complaints.find("G-0001")
        closed_one = complaints.find(old_closed)
        cutoff = utcnow() - dt.timedelta(days=30)
        left = {"old_messages": {m.status for m in Message.select().where(Message.created_at < cutoff)},
                "new_messages": Message.select().where(Message.created_at >= cutoff).count(),
                "runs": FlowRun.select().where(FlowRun.status != "active").count(),
                "scores": scorecards.Score.select().count(), "rsvps": Rsvp.select().count()}
    assert counts["numbers"] == 2  # the closed complainant and the one who said STOP; the open one is awaited
    assert kept_numbers == ["+97699110001", "+97699110003"]
    assert "haaltai" in open_one.text and "haaltai" not in closed_one.text  # free text kept only while open
    assert scorecards_reason_erased(app) and left["scores"] == 1 and left["rsvps"] == 1  # counts stay
    assert left["old_messages"] <= {"queued"} and left["new_messages"] > 0 and left["runs"] == 0  # queued: in flight
    assert counts["messages"] > 0 and counts["runs"] > 0 and counts["complaint_texts"] == 1
    with app.app_context(), database.connection_context():  # an imported list cannot sign up who said STOP
        stopped, created = contact_for_number("+97699110004", pseudonym_key(app))
        assert created and stopped.opted_out_at is not None and not list(stopped.messages)


def complaint_by(number: str, app) -> tuple[str, int]:
    citizen = phone(app, number)
    for text in COMPLAINT:
        citizen.send_sms(text)
    with app.app_context(), database.connection_context():
        latest = complaints.Complaint.select().order_by(complaints.Complaint.id.desc()).first()
        return latest.ref, latest.id


def scorecards_reason_erased(app) -> bool:
    with app.app_context(), database.connection_context():
        return all("8811" not in r.text for r in scorecards.Reason.select())
