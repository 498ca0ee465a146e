"""A meeting end to end against the fake Android phone: notice out, replies in through the signed webhook,
delivery reports, the reminder, and the tally."""
from __future__ import annotations

import itertools

import pytest
import time_machine

from flows.text import to_latin
from gateway import meetings
from gateway.scheduler import run_job
from storage import meetings as store
from storage.contacts import number_of
from storage.db import database
from tests.fakes.signing import android_post
from tests.meetings.helpers import add_contacts, at_local, utc_of

_ids = itertools.count(1)
BULK_TEXTS = {"Маргааш ус тасарна.", to_latin("Маргааш ус тасарна.")}  # English readers get the Latin


def reply(client, number: str, text: str):
    body = {"deviceId": "fake-phone", "event": "sms:received", "id": f"in-{next(_ids)}", "webhookId": "wh-1",
            "payload": {"messageId": "m", "message": text, "phoneNumber": number, "simNumber": 1,
                        "receivedAt": "2026-11-23T11:00:00.000+08:00"}}
    response = android_post(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)


def delivered(client, message_id: str):
    body = {"deviceId": "fake-phone", "event": "sms:delivered", "id": f"st-{next(_ids)}", "webhookId": "wh-2",
            "payload": {"messageId": message_id, "phoneNumber": "+97699110000",
                        "deliveredAt": "2026-11-23T10:01:00.000+08:00"}}
    assert android_post(client, body).status_code == 200


@pytest.fixture
def people(phone_app):
    with phone_app.app_context(), database.connection_context():
        contacts = add_contacts(4, "BGD-07", script="cyrl") + add_contacts(2, "BGD-07", start=4, language="en")
        return [(c.id, number_of(c)) for c in contacts]


def test_notice_replies_reminder_and_tally_against_the_fake_phone(phone_app, fake_android, people):
    client = phone_app.test_client()
    with time_machine.travel(at_local(2026, 11, 23, 10, 0), tick=True):
        with phone_app.app_context(), database.connection_context():
            meeting = meetings.create_meeting(
                phone_app, title_mn="7-р хорооны ИНХ", title_en="Khoroo 7 general meeting", place_mn="хорооны байр",
                place_en="the khoroo office", starts_at=utc_of(at_local(2026, 11, 26, 18, 0)),
                audience=["khoroo:BGD-07"])
        run_job(phone_app, "outbox.dispatch")
        assert sorted(a["to"] for a in fake_android.accepted) == sorted(number for _, number in people)
        texts = {a["to"]: a["text"] for a in fake_android.accepted}
        assert "(Пүрэв) 18:00" in texts[people[0][1]] and "Thu 26 Nov 18:00" in texts[people[4][1]]
        for accepted in fake_android.accepted[:5]:
            delivered(client, accepted["id"])

        reply(client, people[0][1], "1")
        reply(client, people[1][1], "тийм")  # the word, in Cyrillic
        reply(client, people[2][1], "2")
        reply(client, people[3][1], "Хүүхэдтэйгээ ирж болох уу?")
        reply(client, people[4][1], "no")
        run_job(phone_app, "outbox.dispatch")  # the thank-you replies go out too

    with phone_app.app_context(), database.connection_context():
        tally = store.meeting_tally(store.Meeting.get_by_id(meeting.id))
        assert (tally["yes"], tally["no"], tally["questions"], tally["delivered"]) == (2, 2, 1, 5)
        assert store.MeetingQuestion.get().text == "Хүүхэдтэйгээ ирж болох уу?"

    sent_before = len(fake_android.accepted)
    with time_machine.travel(at_local(2026, 11, 23, 18, 0), tick=True):
        assert len(run_job(phone_app, "meetings.due")["enqueued"]) == 1
        run_job(phone_app, "outbox.dispatch")
    reminders = fake_android.accepted[sent_before:]
    assert len(reminders) == 6 and all("Сануулга" in r["text"] or "Reminder" in r["text"] for r in reminders)

    with time_machine.travel(at_local(2026, 11, 23, 18, 30), tick=True):
        reply(client, people[2][1], "1")  # changed their mind after the reminder
    with phone_app.app_context(), database.connection_context():
        tally = store.meeting_tally(store.Meeting.get_by_id(meeting.id))
        assert (tally["yes"], tally["no"]) == (3, 1)


def test_stop_during_a_broadcast_removes_the_person_from_what_is_pending(phone_app, fake_android, people):
    client = phone_app.test_client()
    with time_machine.travel(at_local(2026, 11, 24, 11, 0), tick=True):
        with phone_app.app_context(), database.connection_context():
            from gateway import broadcasts as bc

            broadcast = bc.send_plain_broadcast(phone_app, ["khoroo:BGD-07"], "Маргааш ус тасарна.", None, None,
                                                False, "test")
        reply(client, people[0][1], "ЗОГС")  # before the phone got to them
        run_job(phone_app, "outbox.dispatch")
    got = {a["to"] for a in fake_android.accepted if a["text"] in BULK_TEXTS}
    assert got == {number for _, number in people[1:]}
    with phone_app.app_context(), database.connection_context():
        row = store.Message.get((store.Message.origin == broadcast.origin) & (store.Message.contact == people[0][0]))
        assert (row.status, row.last_error) == ("cancelled", "opted out")


def test_quiet_hours_hold_the_broadcast_until_morning_but_not_replies(phone_app, fake_android, people):
    client = phone_app.test_client()
    with time_machine.travel(at_local(2026, 11, 24, 22, 30), tick=True):
        with phone_app.app_context(), database.connection_context():
            from gateway import broadcasts as bc

            bc.send_plain_broadcast(phone_app, ["khoroo:BGD-07"], "Маргааш ус тасарна.", None, None, False, "test")
        reply(client, people[0][1], "тусламж")  # someone writes at night: the answer is not held
        run_job(phone_app, "outbox.dispatch")
        assert [a["to"] for a in fake_android.accepted] == [people[0][1]]
    with time_machine.travel(at_local(2026, 11, 25, 9, 0, 30), tick=True):
        run_job(phone_app, "outbox.dispatch")
    bulk = [a["to"] for a in fake_android.accepted if a["text"] in BULK_TEXTS]
    assert sorted(bulk) == sorted(number for _, number in people)
