"""The bundled flows end to end through the Africa's Talking SMS and USSD webhooks, in both languages and
both scripts. SMS replies are read back from the outbox, as the simulator does."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from flows.screens import ussd_fits
from flows.templates import render
from flows.text import detect_script, normalize, to_latin
from gateway.conversation import start_sms_flow
from gateway.outbox import enqueue
from gateway.simulate import InProcessTransport, Phone
from storage import scorecards
from storage.complaints import Complaint
from storage.contacts import contact_for_number
from storage.db import database
from storage.models import FlowResult, FlowRun, Message
from tests.conversation.conftest import AT_TOKEN, asked, notice

# (language, script, the keyword the person types)
SMS_VARIANTS = [("mn", "cyrl", "ус"), ("mn", "latn", "us"), ("en", "latn", "water")]


def said(app, flow_id: str, step: str, language: str, script: str, **values) -> str:
    """A `say` step as the engine renders it for this reader."""
    source = app.extensions["gateway.flows"].get(flow_id).steps[step].say.source(language, script)
    text = render(source, {"lang": language, **values})
    return to_latin(text) if language == "mn" and script == "latn" else text


def with_db(app, query):
    with app.app_context(), database.connection_context():
        return query()


def contact_of(app, phone: Phone):
    return with_db(app, lambda: contact_for_number(phone.number, app.config["SECRET_KEY"])[0])


def make_phone(app, language: str | None = None) -> Phone:
    phone = Phone(app, InProcessTransport(app, AT_TOKEN), "+976881" + uuid.uuid4().hex[:5].translate(
        str.maketrans("abcdef", "123456")))
    if language:
        phone.set_language(language)
    return phone


@pytest.mark.parametrize(("language", "script", "keyword"), SMS_VARIANTS)
def test_water_kiosk_check_over_sms(at_app, language, script, keyword):
    phone = make_phone(at_app, language)
    first = phone.send_sms(keyword)
    assert len(first) == 2 and first[0] == notice(at_app, language, script)
    assert first[1].startswith(asked(at_app, "water_kiosk_check", "open_today", language, script))
    assert phone.send_sms("2")[0].startswith(asked(at_app, "water_kiosk_check", "hours_closed", language, script))
    assert phone.send_sms("3")[0].startswith(asked(at_app, "water_kiosk_check", "rating", language, script))
    (thanks,) = phone.send_sms("4")
    assert thanks == said(at_app, "water_kiosk_check", "thanks", language, script, rating=4)
    assert detect_script(thanks) == ("cyrl" if script == "cyrl" else "latn")
    run = with_db(at_app, lambda: FlowRun.get(FlowRun.contact == contact_of(at_app, phone).id))
    assert run.status == "completed" and run.channel == "sms"


def menu_number(phone: Phone, screen: str, title: str) -> str:
    """The number of `title` in the main menu, turning pages ("99") until it shows."""
    for _ in range(5):
        assert ussd_fits(screen)
        found = [line.split(".")[0] for line in screen.split("\n") if line.endswith(f". {title}")]
        if found:
            return found[0]
        screen, _ = phone.ussd("99")
    raise AssertionError(f"{title!r} is not in the menu")


@pytest.mark.parametrize(("language", "script"), [("mn", "latn"), ("mn", "cyrl"), ("en", "latn")])
def test_water_kiosk_check_over_ussd(make_app, monkeypatch, language, script):
    monkeypatch.setenv("AT_WEBHOOK_TOKEN", AT_TOKEN)
    app = make_app(channels={"africastalking": {"enabled": True}}, language={"ussd_script": script})
    phone = make_phone(app, language)
    first, ended = phone.ussd(None)
    assert not ended and first == notice(app, language, script, "ussd") and ussd_fits(first)
    menu, _ = phone.ussd("1")
    screen, _ = phone.ussd(menu_number(phone, menu, app.extensions["gateway.flows"].get("water_kiosk_check")
                                       .title(language, script)))
    assert screen.startswith(asked(app, "water_kiosk_check", "open_today", language, script))
    screen, _ = phone.ussd("1")
    assert screen.startswith(asked(app, "water_kiosk_check", "rating", language, script))
    screen, ended = phone.ussd("4")
    assert ended and screen == said(app, "water_kiosk_check", "thanks", language, script, rating=4)


@pytest.mark.parametrize("inputs", [
    ["gomdol", "1", "Bayangol", "7", "Hudaldaanii tuviin hajuud", "Us tugeeh bair 3 honog haaltai", "1"],
    ["гомдол", "1", "Баянгол", "7", "0", "Ус түгээх байр 3 хоног хаалттай", "тийм"],
])
def test_complaint_over_sms_files_a_complaint_and_sends_its_ref(at_app, inputs):
    phone = make_phone(at_app)
    replies = [phone.send_sms(text) for text in inputs]
    last = replies[-1][-1]
    complaint = with_db(at_app, lambda: Complaint.select().order_by(Complaint.id.desc()).first())
    assert complaint is not None and complaint.ref in last
    assert complaint.category == "water" and complaint.anonymous
    assert with_db(at_app, lambda: complaint.admin_unit.code) == "BGD-07"
    assert detect_script(last) == ("cyrl" if inputs[0] == "гомдол" else "latn")


def test_complaint_over_ussd_in_english(at_app):
    phone = make_phone(at_app, "en")
    phone.ussd(None)
    menu, _ = phone.ussd("1")
    phone.ussd(menu_number(phone, menu, "Complaint"))
    units, _ = phone.ussd("2")  # waste
    assert units.startswith("Which district or soum?")
    bayangol = next(line for line in units.split("\n") if "Bayangol" in line)
    assert phone.ussd(bayangol.split(".")[0])[0].startswith("Which khoroo or bag?")
    phone.ussd("7")
    phone.ussd("0")  # no landmark
    phone.ussd("Garbage not collected for two weeks")
    screen, ended = phone.ussd("2")  # not anonymous
    complaint = with_db(at_app, lambda: Complaint.select().order_by(Complaint.id.desc()).first())
    assert ended and complaint.ref in screen and complaint.category == "waste" and not complaint.anonymous


@pytest.mark.parametrize(("reply", "expected_step", "saved"), [
    ("1", "coming", {"rsvp": "yes"}),
    ("irehgui", "not_coming", {"rsvp": "no"}),
    ("Hural haana boloh ve?", "question_noted", {"rsvp": "question", "question": "Hural haana boloh ve?"}),
])
def test_meeting_rsvp_answers_a_notice(at_app, reply, expected_step, saved):
    phone = make_phone(at_app)
    phone.send_sms("START")

    def send_notice():
        contact = contact_for_number(phone.number, at_app.config["SECRET_KEY"])[0]
        with at_app.test_request_context():
            for text in start_sms_flow(at_app, contact.id, "meeting_rsvp"):
                enqueue(contact, text, purpose="notice")
    with_db(at_app, send_notice)
    (reminder,) = phone.sms_replies()
    assert reminder.startswith("Sanuulga")
    (answer,) = phone.send_sms(reply)
    assert answer == said(at_app, "meeting_rsvp", expected_step, "mn", "latn")
    runs = with_db(at_app, lambda: list(FlowRun.select().where(FlowRun.flow_id == "meeting_rsvp")
                                        .order_by(FlowRun.id)))
    results = with_db(at_app, lambda: {r.name: r.value for r in FlowResult.select().where(FlowResult.run == runs[0])})
    assert results == saved
    assert [run.status for run in runs] == ["completed", "active"]  # it listens again: the latest answer wins


@pytest.fixture
def open_round(at_app):
    def create():
        point = scorecards.service_point("KG16", admin_unit_code="SKhD-07", kind="kindergarten",
                                         name_mn="16-р цэцэрлэг", name_en="Kindergarten 16")
        round_ = scorecards.create_round(point, [
            {"code": "A", "mn": "Багш нар эелдэг үү?", "en": "Are teachers courteous?"},
            {"code": "B", "mn": "Хоол хангалттай юу?", "en": "Is the food sufficient?"}],
            meeting_at=dt.datetime(2027, 6, 20, 10, 0), meeting_place_mn="Хорооны байр")
        return scorecards.set_status(round_, "open")
    return with_db(at_app, create)


@pytest.mark.parametrize(("language", "script", "keyword"), SMS_VARIANTS[:2] + [("en", "latn", "score")])
def test_scorecard_over_sms_scores_each_indicator(at_app, open_round, language, script, keyword):
    phone = make_phone(at_app, language)
    first = phone.send_sms({"ус": "үнэлгээ", "us": "unelgee"}.get(keyword, keyword))
    assert asked(at_app, "scorecard", "group", language, script) in first[-1]
    first_indicator = phone.send_sms("1")[0]  # one open round: no service-point question
    assert ("Are teachers courteous?" if language == "en" else "1/2") in first_indicator
    phone.send_sms("4")
    phone.send_sms("2")
    (thanks,) = phone.send_sms("0")
    assert ("20 June" if language == "en" else "6/20") in thanks
    scores = with_db(at_app, lambda: sorted((s.indicator.code, s.score) for s in scorecards.Score.select()))
    assert scores == [("A", 4), ("B", 2)]


def test_a_redelivered_sms_is_answered_once(at_app):
    phone = make_phone(at_app)
    form = {"from": phone.number, "to": "1411", "text": "us", "id": "ATXid_same", "date": "2026-11-22 10:00:00"}
    client = at_app.test_client()
    for _ in range(2):
        assert client.post(f"/webhooks/africastalking/sms?token={AT_TOKEN}", data=form).status_code == 200
    assert len(phone.sms_replies()) == 2  # notice + first question, not four
    runs = with_db(at_app, lambda: FlowRun.select().count())
    assert runs == 1


def test_stop_through_the_webhook_sends_only_the_confirmation(at_app):
    phone = make_phone(at_app)
    phone.send_sms("us")
    (confirmation,) = phone.send_sms("ZOGS")
    assert "EHLEH" in confirmation
    assert phone.send_sms("2") == []
    assert phone.send_sms("gomdol") == []
    inbound = with_db(at_app, lambda: Message.select().where(Message.direction == "in").count())
    assert inbound == 4  # everything received is kept, nothing more is sent


def test_a_ussd_hop_redelivered_through_the_webhook_gets_the_same_screen(at_app):
    phone = make_phone(at_app)
    phone.ussd(None)
    menu, _ = phone.ussd("1")
    client = at_app.test_client()
    form = {"sessionId": phone.session_id, "serviceCode": "*1411#", "phoneNumber": phone.number, "text": "1"}
    again = client.post(f"/webhooks/africastalking/ussd?token={AT_TOKEN}", data=form).get_data(as_text=True)
    assert again == "CON " + menu
    assert normalize(phone.ussd("2")[0]).startswith(normalize("Gomdol yuunii"))
