"""Inbound webhooks, built from the protocols.md fixtures, through the real wrapper and the real conversation."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from storage.models import Contact, Message, PhoneNumber
from tests.fakes.signing import android_post, at_post, twilio_post

# protocols.md §2.4 (courier fixture, both date formats) — the number made Mongolian, since +254 is AT's own test.
AT_SMS = ("linkId=03090445075804249226&text=Msg&to=21512&id=ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3"
          "&date=2017-05-03T06%3A04%3A45Z&from=%2B254791541111")
AT_SMS_SPACE_DATE = AT_SMS.replace("2017-05-03T06%3A04%3A45Z", "2017-05-03+06%3A04%3A45")
# protocols.md §1.1 sandbox capture
AT_USSD_FIRST = ("phoneNumber=%2B254739495441&serviceCode=%2A384%2A44135%23&text="
                 "&sessionId=ATUid_7c898d72eb11f723ed8ea05ef232f279&networkCode=99999")
# protocols.md §3.1 signed synthetic fixture (Cyrillic body, Mongolian number)
TWILIO_SMS = {
    "ToCountry": "US", "ToState": "CA", "SmsMessageSid": "SM11111111111111111111111111111111", "NumMedia": "0",
    "ToCity": "", "FromZip": "", "SmsSid": "SM11111111111111111111111111111111", "FromState": "",
    "SmsStatus": "received", "FromCity": "", "Body": "Сайн уу", "FromCountry": "MN", "To": "+15005550006",
    "ToZip": "", "NumSegments": "1", "MessageSid": "SM11111111111111111111111111111111",
    "AccountSid": "AC00000000000000000000000000000000", "From": "+97699112233", "ApiVersion": "2010-04-01",
}
# protocols.md §7.2
ANDROID_RECEIVED = {
    "deviceId": "ffffffffceb0b1db0000018e937c815b", "event": "sms:received", "id": "Ey6ECgOkVVFjz3CL48B8C",
    "payload": {"messageId": "abc123", "message": "gomdol us tugeeh bair haaltai", "phoneNumber": "+97699112233",
                "simNumber": 1, "receivedAt": "2024-06-22T15:46:11.000+08:00"},
    "webhookId": "wh-1",
}


def inbound(db) -> list[Message]:
    return list(Message.select().where(Message.direction == "in").order_by(Message.id))


def outbound(db) -> list[Message]:
    return list(Message.select().where(Message.direction == "out").order_by(Message.id))


def say(app, key: str, language: str = "mn", script: str = "latn", **values) -> str:
    """One of the gateway's own texts (flows/system/messages.yaml), as a reader sees it."""
    from flows.templates import render
    from flows.text import to_latin

    text = app.extensions["gateway.flows"].messages[key]
    rendered = render(text.source(language, script), {"lang": language, **values})
    return to_latin(rendered) if language == "mn" and script == "latn" else rendered


NOTICE_LATN = "Tavtai moril! Hariultiig 12 sar hadgalna."
NOTICE_CYRL = "Тавтай морил! Хариултыг 12 сар хадгална."


@pytest.mark.parametrize("body", [AT_SMS, AT_SMS_SPACE_DATE], ids=["iso-date", "space-date"])
def test_africastalking_sms_is_stored_and_answered_through_the_outbox(channel_app, body):
    client = channel_app.test_client()
    response = at_post(client, "/webhooks/africastalking/sms", body)
    assert response.status_code == 200
    with channel_app.app_context():
        [row] = inbound(None)
        assert (row.channel, row.provider_id, row.text, row.kind) == (
            "africastalking", "ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3", "Msg", "sms")
        assert row.text_norm == "msg"
        assert PhoneNumber.get(PhoneNumber.contact == row.contact_id).e164 == "+254791541111"
        notice, reply = outbound(None)  # a first message: the consent notice, then "not understood" and help
        assert notice.text.startswith(NOTICE_LATN) and reply.text.startswith("Oilgosongui. Ilgeeh ug: ")
        assert (reply.channel, reply.status, reply.purpose) == ("africastalking", "queued", "reply")
        assert reply.in_reply_to_id == row.id and reply.priority == 0


def test_twilio_fixture_with_cyrillic_body_gets_empty_twiml(channel_app):
    response = twilio_post(channel_app.test_client(), "/webhooks/twilio/sms", TWILIO_SMS)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    with channel_app.app_context():
        [row] = inbound(None)
        assert row.text == "Сайн уу" and row.text_norm == "sain uu"
        assert row.provider_id == "SM11111111111111111111111111111111"
        notice, reply = outbound(None)  # answered in the script the person wrote in
        assert notice.text.startswith(NOTICE_CYRL) and reply.text.startswith("Ойлгосонгүй.")
        assert notice.encoding == "UCS-2"


def test_android_received_event_is_stored_and_marks_phone_seen(channel_app):
    client = channel_app.test_client()
    assert android_post(client, ANDROID_RECEIVED).status_code == 200
    with channel_app.app_context():
        [row] = inbound(None)
        assert (row.channel, row.provider_id, row.text) == ("android", "Ey6ECgOkVVFjz3CL48B8C",
                                                            "gomdol us tugeeh bair haaltai")
        notice, question = outbound(None)  # "gomdol …" starts the complaint flow
        assert question.text.startswith("Gomdol yuunii talaar ve?") and question.channel == "android"
    health = client.get("/healthz").get_json()
    assert health["channels"]["android"]["detail"].startswith("phone last seen 0 min ago")


def test_ussd_first_hop_answers_con_and_redelivery_gets_the_same_screen(channel_app):
    client = channel_app.test_client()
    first = at_post(client, "/webhooks/africastalking/ussd", AT_USSD_FIRST)
    assert first.status_code == 200 and first.mimetype == "text/plain"
    assert first.get_data(as_text=True).startswith("CON Hariultiig 12 sar hadgalna")  # the notice, first
    again = at_post(client, "/webhooks/africastalking/ussd", AT_USSD_FIRST)
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    second_hop = at_post(client, "/webhooks/africastalking/ussd", AT_USSD_FIRST.replace("text=", "text=1"))
    assert second_hop.get_data(as_text=True).startswith("CON Songono uu:\n1. Irgediin unelgee")
    with channel_app.app_context():
        from storage.runs import UssdSession

        session = UssdSession.get()  # the session row is the record of its hops
        assert (session.history, session.consumed, session.screen_end) == ("1", 1, False)
        assert "CON " + session.screen == second_hop.get_data(as_text=True)
        assert inbound(None) == [] and outbound(None) == []  # a USSD hop never creates an SMS send by itself


@pytest.mark.parametrize("post", [
    lambda c: at_post(c, "/webhooks/africastalking/sms", AT_SMS),
    lambda c: twilio_post(c, "/webhooks/twilio/sms", TWILIO_SMS),
    lambda c: android_post(c, ANDROID_RECEIVED),
], ids=["africastalking", "twilio", "android"])
def test_redelivered_sms_gets_the_same_answer_and_is_processed_once(channel_app, post):
    client = channel_app.test_client()
    first, second = post(client), post(client)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.get_data() == second.get_data()
    with channel_app.app_context():
        assert len(inbound(None)) == 1 and len(outbound(None)) == 2  # notice + answer, once


def test_sms_without_id_counts_as_duplicate_only_within_a_few_seconds(channel_app):
    client = channel_app.test_client()
    body = AT_SMS.replace("&id=ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3", "")
    start = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        at_post(client, "/webhooks/africastalking/sms", body)
    with time_machine.travel(start + dt.timedelta(seconds=5), tick=False):
        at_post(client, "/webhooks/africastalking/sms", body)
    with channel_app.app_context():
        assert len(inbound(None)) == 1 and len(outbound(None)) == 2
    with time_machine.travel(start + dt.timedelta(minutes=1), tick=False):  # then the same text is a new message
        at_post(client, "/webhooks/africastalking/sms", body)
    with channel_app.app_context():
        assert len(inbound(None)) == 2 and len(outbound(None)) == 3  # no second notice


def test_ussd_session_end_event_ends_the_run_at_once(channel_app):
    client = channel_app.test_client()
    session = "ATUid_5d3b4c2bc589f4811820a7184eed4df5"
    dial = AT_USSD_FIRST.replace("ATUid_7c898d72eb11f723ed8ea05ef232f279", session)
    at_post(client, "/webhooks/africastalking/ussd", dial)
    at_post(client, "/webhooks/africastalking/ussd", dial.replace("text=", "text=1"))  # the main menu waits
    body = ("date=2025-09-29+12%3A00%3A00&sessionId=ATUid_5d3b4c2bc589f4811820a7184eed4df5"
            "&serviceCode=%2A384%2A44135%23&networkCode=99999&phoneNumber=%2B254720123123&status=Incomplete&cost=KES+0.0000&durationInMillis=20345"
            "&hopsCount=3&input=1%2A2&lastAppResponse=CON+Enter+your+Acc+No.&errorMessage=")
    assert at_post(client, "/webhooks/africastalking/ussd/events", body).status_code == 200
    from storage.models import FlowRun

    with channel_app.app_context():
        runs = FlowRun.select().where(FlowRun.session_key == session).order_by(FlowRun.id)
        assert [(run.flow_id, run.status) for run in runs] == [("consent", "completed"), ("menu", "interrupted")]


def test_a_failure_inside_the_conversation_is_not_a_500_and_is_kept_for_an_operator(channel_app):
    from storage.db import database

    with channel_app.app_context(), database.connection_context():  # a real fault: a table the conversation needs
        database.execute_sql("ALTER TABLE ussd_session RENAME TO ussd_session_away")  # is gone (back afterwards:
    try:  # PostgreSQL keeps the schema from one test to the next)
        response = at_post(channel_app.test_client(), "/webhooks/africastalking/ussd", AT_USSD_FIRST)
    finally:
        with channel_app.app_context(), database.connection_context():
            database.execute_sql("ALTER TABLE ussd_session_away RENAME TO ussd_session")
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("END Uuchlaarai")
    with channel_app.app_context():
        [row] = inbound(None)
        assert row.status == "error" and row.response.startswith("END ")


def test_contact_is_created_once_per_number(channel_app):
    client = channel_app.test_client()
    android_post(client, ANDROID_RECEIVED)
    android_post(client, {**ANDROID_RECEIVED, "id": "another-envelope", "payload": {
        **ANDROID_RECEIVED["payload"], "phoneNumber": "99112233", "message": "2"}})
    with channel_app.app_context():
        assert Contact.select().count() == 1
        assert len(inbound(None)) == 2


def test_android_sms_from_a_short_code_is_kept_unanswered_not_refused(channel_app):
    client = channel_app.test_client()
    notice = {**ANDROID_RECEIVED, "id": "op-1", "payload": {**ANDROID_RECEIVED["payload"], "phoneNumber": "1411",
                                                            "message": "Tany dansny uldegdel 500 tugrug"}}
    assert android_post(client, notice).status_code == 200
    assert android_post(client, notice).status_code == 200  # the app's retry
    with channel_app.app_context():
        [row] = inbound(None)
        assert (row.status, row.contact_id, row.text) == ("ignored", None, "Tany dansny uldegdel 500 tugrug")
        assert outbound(None) == []
