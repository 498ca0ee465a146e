"""Replays: providers redeliver a webhook when they did not see our answer in time. Every webhook delivered five
times with the same id is stored once and answered once; a USSD hop delivered again gets the same screen.

Through the real webhook (signatures checked) and the real conversation; the fakes are the providers."""
from __future__ import annotations

import pytest

from storage.db import database
from storage.models import Contact, FlowResult, FlowRun, Message
from storage.runs import UssdSession
from tests.channels.test_channels_inbound import ANDROID_RECEIVED, AT_SMS, AT_USSD_FIRST, TWILIO_SMS
from tests.channels.test_channels_status import android_report, at_report, send_one, twilio_report
from tests.fakes.signing import android_post, at_post, twilio_post

TIMES = 5


def rows(app) -> dict:
    """Everything a replay could add or change."""
    with app.app_context(), database.connection_context():
        return {"messages": [(m.direction, m.channel, m.provider_id, m.status, m.text)
                             for m in Message.select().order_by(Message.id)],
                "runs": [(r.flow_id, r.status, r.state) for r in FlowRun.select().order_by(FlowRun.id)],
                "sessions": [(s.session_key, s.history, s.consumed, s.screen, s.screen_end)
                             for s in UssdSession.select().order_by(UssdSession.id)],
                "contacts": [(c.key, c.consent_at, c.opted_out_at) for c in Contact.select().order_by(Contact.id)],
                "results": [(r.run.flow_id, r.name, r.value) for r in FlowResult.select().order_by(FlowResult.id)]}


def replayed(post, times: int = TIMES) -> list:
    answers = [post() for _ in range(times)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.get_data() for a in answers}) == 1, "every delivery gets the same answer"
    return answers


@pytest.mark.parametrize("post", [
    lambda c: at_post(c, "/webhooks/africastalking/sms", AT_SMS),
    lambda c: twilio_post(c, "/webhooks/twilio/sms", TWILIO_SMS),
    lambda c: android_post(c, ANDROID_RECEIVED),  # a fresh timestamp and signature each time, as the phone retries
], ids=["africastalking", "twilio", "android"])
def test_an_sms_delivered_five_times_is_stored_once_and_answered_once(channel_app, post):
    client = channel_app.test_client()
    post(client)
    once = rows(channel_app)
    replayed(lambda: post(client), TIMES - 1)
    assert rows(channel_app) == once
    inbound = [m for m in once["messages"] if m[0] == "in"]
    outbound = [m for m in once["messages"] if m[0] == "out"]
    assert len(inbound) == 1 and len(outbound) == 2  # the notice and one answer


def test_every_hop_of_a_ussd_journey_delivered_five_times_gets_the_same_screen(channel_app):
    """Dial, yes to the notice, the water-kiosk flow, "open", a rating of 5 (END): each hop five times, and
    each changes the session, the runs and the results once."""
    client = channel_app.test_client()
    screens, texts = [], ["", "1", "1*5", "1*5*1", "1*5*1*5"]
    for text in texts:
        answers = replayed(lambda text=text: at_post(client, "/webhooks/africastalking/ussd",
                                                     AT_USSD_FIRST.replace("text=", f"text={text}")))
        screens.append(answers[0].get_data(as_text=True))
        state = rows(channel_app)
        assert [s[1:3] for s in state["sessions"]] == [(text, text.count("*") + 1 if text else 0)]
    assert screens[0].startswith("CON Hariultiig") and screens[1].startswith("CON Songono uu")
    assert all(screen.startswith("CON ") for screen in screens[:-1]) and screens[-1].startswith("END ")
    assert len(set(screens)) == len(texts)
    state = rows(channel_app)
    flows = [run[0] for run in state["runs"]]
    assert flows == ["consent", "menu", "water_kiosk_check"]  # each started once
    assert state["results"] == [("water_kiosk_check", "open_today", "open"), ("water_kiosk_check", "rating", "5")]
    assert state["messages"] == []


def test_a_ussd_session_end_event_delivered_five_times_ends_the_run_once(channel_app):
    client = channel_app.test_client()
    at_post(client, "/webhooks/africastalking/ussd", AT_USSD_FIRST)
    at_post(client, "/webhooks/africastalking/ussd", AT_USSD_FIRST.replace("text=", "text=1"))  # the menu waits
    event = ("date=2025-09-29+12%3A00%3A00&sessionId=ATUid_7c898d72eb11f723ed8ea05ef232f279"
             "&serviceCode=%2A384%2A44135%23&networkCode=99999&phoneNumber=%2B254739495441&status=Incomplete"
             "&cost=KES+0.0000&durationInMillis=20345&hopsCount=2&input=1&lastAppResponse=CON+x&errorMessage=")
    replayed(lambda: at_post(client, "/webhooks/africastalking/ussd/events", event))
    assert [run[:2] for run in rows(channel_app)["runs"]] == [("consent", "completed"), ("menu", "interrupted")]


@pytest.mark.parametrize("channel,report", [
    ("africastalking", lambda c, pid: at_report(c, pid, "Success")),
    ("twilio", lambda c, pid: twilio_report(c, pid, "delivered")),
    ("android", lambda c, pid: android_report(c, pid, "sms:delivered", "envelope-1",
                                              deliveredAt="2026-12-01T10:00:00.000+08:00")),
])
def test_a_delivery_report_delivered_five_times_changes_the_message_once(channel_app, fake_at, fake_twilio,
                                                                         fake_android, channel, report):
    message = send_one(channel_app, channel)
    client = channel_app.test_client()
    report(client, message.provider_id)
    once = rows(channel_app)
    assert [m[3] for m in once["messages"]] == ["delivered"]
    replayed(lambda: report(client, message.provider_id), TIMES - 1)
    assert rows(channel_app) == once


@pytest.mark.parametrize("channel,report", [
    ("africastalking", lambda c, pid: at_report(c, pid, "Failed", failureReason="UserInBlackList")),
    ("twilio", lambda c, pid: twilio_report(c, pid, "failed", ErrorCode="21610")),
])
def test_an_opt_out_report_delivered_five_times_opts_out_once(channel_app, fake_at, fake_twilio, channel, report):
    message = send_one(channel_app, channel)
    client = channel_app.test_client()
    report(client, message.provider_id)
    once = rows(channel_app)
    assert once["contacts"][0][2] is not None
    replayed(lambda: report(client, message.provider_id), TIMES - 1)
    assert rows(channel_app) == once  # the opt-out keeps its first time


def test_a_message_over_the_flood_limit_delivered_five_times_is_kept_once(make_channel_app):
    app = make_channel_app(inbound_limit={"messages": 1, "minutes": 10})
    client = app.test_client()
    twilio_post(client, "/webhooks/twilio/sms", TWILIO_SMS)
    over = {**TWILIO_SMS, "MessageSid": "SM" + "2" * 32, "SmsSid": "SM" + "2" * 32, "Body": "dahiad"}
    answers = replayed(lambda: twilio_post(client, "/webhooks/twilio/sms", over))
    assert answers[0].get_data(as_text=True) == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    messages = rows(app)["messages"]
    assert [m[3] for m in messages if m[0] == "in"] == ["handled", "rate_limited"]
    assert sum(m[0] == "out" and m[4].startswith("Ta heterhii olon") for m in messages) == 1
