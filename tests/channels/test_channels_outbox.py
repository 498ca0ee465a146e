"""The outbox against fake providers through the official SDKs: sends, failures, retries, failover, order, guards."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine

from gateway.outbox import RateLimiter, dispatch, enqueue
from storage import outbox as store
from storage.contacts import contact_for_number
from storage.db import database, utcnow
from storage.models import Contact, Message

NUMBER = "+97699112233"


@pytest.fixture
def ctx(channel_app):
    with channel_app.app_context(), database.connection_context():
        yield channel_app


def person(app, number: str = NUMBER) -> Contact:
    return contact_for_number(number, app.config["SECRET_KEY"])[0]


def row(message: Message) -> Message:
    return Message.get_by_id(message.id)


def later(minutes: float):
    """Jump the clock forward so backoffs are due (the fakes keep real time)."""
    return time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes), tick=True)


@pytest.mark.parametrize("channel", ["twilio", "africastalking", "android"])
def test_each_channel_sends_through_its_sdk(ctx, fake_twilio, fake_at, fake_android, channel):
    fake = {"twilio": fake_twilio, "africastalking": fake_at, "android": fake_android}[channel]
    message = enqueue(person(ctx), "Sain baina uu", channel=channel)
    assert dispatch(ctx)["sent"] == 1
    sent = row(message)
    assert sent.status == "sent" and sent.channel == channel and sent.attempts == 1 and sent.sent_at
    [accepted] = fake.accepted
    assert (accepted["to"], accepted["text"]) == (NUMBER, "Sain baina uu")
    assert sent.provider_id == (accepted.get("sid") or accepted["id"])


def test_twilio_send_carries_status_callback_and_sender(make_channel_app, fake_twilio):
    app = make_channel_app(public_url="https://gw.example.mn")
    with app.app_context(), database.connection_context():
        enqueue(person(app), "hi", channel="twilio")
        dispatch(app)
    [request] = fake_twilio.requests
    assert request.form["StatusCallback"] == ["https://gw.example.mn/webhooks/twilio/status"]
    assert request.form["From"] == ["+15005550006"]


def test_android_send_uses_our_id_and_sim(make_channel_app, fake_android):
    app = make_channel_app(channels={"android": {"sim_number": 2}})
    with app.app_context(), database.connection_context():
        message = enqueue(person(app), "hi", channel="android")
        dispatch(app)
        assert row(message).provider_id == f"gw-{message.id}"
    assert fake_android.accepted[0]["id"] == f"gw-{message.id}" and fake_android.accepted[0]["sim"] == 2


@pytest.mark.parametrize("mode", ["500", "429", "timeout"])
@pytest.mark.parametrize("channel", ["twilio", "africastalking", "android"])
def test_transient_failures_are_retried_with_backoff(ctx, fake_twilio, fake_at, fake_android, channel, mode):
    fake = {"twilio": fake_twilio, "africastalking": fake_at, "android": fake_android}[channel]
    fake.hang_seconds = 1.5  # above the 1 s send timeout the tests configure
    fake.fail_next(mode)
    message = enqueue(person(ctx), "retry me", channel=channel)
    assert dispatch(ctx)["retry"] == 1
    waiting = row(message)
    assert waiting.status == "queued" and waiting.attempts == 1 and waiting.last_error
    assert waiting.next_attempt_at > utcnow()
    assert dispatch(ctx).get("sent", 0) == 0  # not due yet
    with later(5):
        assert dispatch(ctx)["sent"] == 1
    assert row(message).status == "sent" and row(message).attempts == 2
    assert fake.sent_texts() == ["retry me"]


def test_slow_provider_within_timeout_is_fine(ctx, fake_twilio):
    fake_twilio.fail_next("slow")
    message = enqueue(person(ctx), "slowly", channel="twilio")
    assert dispatch(ctx)["sent"] == 1 and row(message).status == "sent"


def test_gives_up_after_max_attempts_with_the_reason(make_channel_app, fake_at):
    app = make_channel_app(outbox={"max_attempts": 2, "failover_after": 99},
                           routing={"sms": ["africastalking"], "bulk": ["africastalking"]})
    fake_at.always = "500"
    with app.app_context(), database.connection_context():
        message = enqueue(person(app), "doomed", channel="africastalking")
        dispatch(app)
        with later(10):
            dispatch(app)
        failed = row(message)
    assert failed.status == "failed" and failed.attempts == 2
    assert "gave up after 2 attempts" in failed.last_error and "500" in failed.last_error


def test_at_201_with_empty_recipients_is_a_failure(ctx, fake_at):
    fake_at.fail_next("empty_recipients")
    message = enqueue(person(ctx), "hello", channel="africastalking")
    dispatch(ctx)
    assert row(message).status == "failed" and "InvalidSenderId" in row(message).last_error


def test_at_user_in_blacklist_opts_the_contact_out(ctx, fake_at):
    fake_at.fail_next("blacklisted")
    contact = person(ctx)
    message = enqueue(contact, "hello", channel="africastalking")
    dispatch(ctx)
    assert row(message).status == "failed" and "406" in row(message).last_error
    assert Contact.get_by_id(contact.id).opted_out_at is not None


def test_twilio_21610_opts_the_contact_out(ctx, fake_twilio):
    fake_twilio.fail_next("unsubscribed")
    contact = person(ctx)
    message = enqueue(contact, "hello", channel="twilio")
    dispatch(ctx)
    assert row(message).status == "failed" and "21610" in row(message).last_error
    assert Contact.get_by_id(contact.id).opted_out_at is not None


def test_failover_to_the_next_channel_when_one_is_down(make_channel_app, fake_android, fake_at):
    app = make_channel_app(outbox={"failover_after": 2}, routing={"sms": ["android", "africastalking"]})
    fake_android.always = "500"
    with app.app_context(), database.connection_context():
        contact = person(app)
        first = enqueue(contact, "one", channel="android")
        second = enqueue(contact, "two", channel="android")
        dispatch(app)  # two failures in a row: android is down, both messages move to Africa's Talking
        dispatch(app)
        assert (row(first).status, row(first).channel) == ("sent", "africastalking")
        assert (row(second).status, row(second).channel) == ("sent", "africastalking")
        third = enqueue(contact, "three", channel="android")  # while android is down, new mail skips it
        dispatch(app)
        assert row(third).channel == "africastalking"
    assert sorted(fake_at.sent_texts()) == ["one", "three", "two"]
    assert fake_android.accepted == []


def test_a_healthy_phone_comes_back_after_the_down_period(make_channel_app, fake_android, fake_at):
    app = make_channel_app(outbox={"failover_after": 1, "down_seconds": 60}, routing={"sms": ["android", "twilio"]})
    fake_android.fail_next("500")
    with app.app_context(), database.connection_context():
        contact = person(app)
        enqueue(contact, "one", channel="android")
        dispatch(app)
        assert store.channel_is_down("android", utcnow())
        with later(2):
            message = enqueue(contact, "two", channel="android")
            dispatch(app)
            assert row(message).channel == "android" and row(message).status == "sent"


@time_machine.travel(dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC), tick=True)  # 12:00 in Ulaanbaatar
def test_replies_go_before_bulk(ctx, fake_android):
    contact = person(ctx)
    other = person(ctx, "+97688112233")
    for n in range(3):
        enqueue(other, f"notice {n}", purpose="broadcast", channel="android",
                not_before=utcnow() - dt.timedelta(hours=1))
    for n in range(3, 5):
        enqueue(other, f"notice {n}", purpose="broadcast", channel="android")
    enqueue(contact, "your reply", channel="android")
    dispatch(ctx)
    assert fake_android.sent_texts()[0] == "your reply"
    assert sorted(fake_android.sent_texts()[1:]) == [f"notice {n}" for n in range(5)]


def test_bulk_waits_for_the_end_of_quiet_hours_but_replies_do_not(ctx):
    contact = person(ctx)
    night = dt.datetime(2026, 11, 22, 15, 30, tzinfo=dt.UTC)  # 23:30 in Ulaanbaatar (UTC+8)
    with time_machine.travel(night, tick=False):
        notice = enqueue(contact, "meeting tomorrow", purpose="notice")
        reply = enqueue(contact, "thanks", purpose="reply")
    assert row(notice).next_attempt_at == dt.datetime(2026, 11, 23, 1, 0)  # 09:00 local
    assert row(reply).next_attempt_at is None


class SteppedClock:
    """The rate limiter's clock, injected: time moves only when the limiter sleeps (or a send takes `send_cost`)."""

    def __init__(self):
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limit_spaces_sends_per_channel(make_channel_app, fake_twilio, fake_at):
    app = make_channel_app(channels={"twilio": {"rate_per_second": 4}, "africastalking": {"rate_per_second": 2}})
    stepped = SteppedClock()
    app.extensions["gateway.rate_limiter"] = RateLimiter(clock=stepped.clock, sleep=stepped.sleep)
    fake_twilio.clock = fake_at.clock = stepped.clock  # each fake notes the limiter's time of every request
    with app.app_context(), database.connection_context():
        contact = person(app)
        for n in range(4):
            enqueue(contact, f"t{n}", channel="twilio")
            enqueue(contact, f"a{n}", channel="africastalking")
        assert dispatch(app)["sent"] == 8
    for fake, interval in ((fake_twilio, 0.25), (fake_at, 0.5)):
        times = [request.at for request in fake.requests]
        assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx([interval] * 3)


def test_loop_guard_stops_the_same_text_to_the_same_number(make_channel_app, fake_twilio):
    app = make_channel_app(outbox={"loop_guard_max": 2})
    with app.app_context(), database.connection_context():
        contact = person(app)
        rows = [enqueue(contact, "same text", channel="twilio") for _ in range(4)]
        assert [row(r).status for r in rows] == ["queued", "queued", "cancelled", "cancelled"]
        assert "loop guard" in row(rows[2]).last_error
        enqueue(contact, "different text", channel="twilio")
        dispatch(app)
        with later(6):  # outside the 5-minute window the text may go again
            assert row(enqueue(contact, "same text", channel="twilio")).status == "queued"
    assert fake_twilio.sent_texts() == ["same text", "same text", "different text"]


def test_idempotency_key_makes_enqueue_safe_to_repeat(ctx):
    contact = person(ctx)
    first = enqueue(contact, "notice", purpose="notice", idempotency_key="meeting:1:notice:7")
    again = enqueue(contact, "notice", purpose="notice", idempotency_key="meeting:1:notice:7")
    assert first.id == again.id
    assert Message.select().where(Message.direction == "out").count() == 1


def test_bulk_to_an_opted_out_contact_is_cancelled_but_a_reply_is_sent(ctx, fake_android):
    from storage.contacts import opt_out

    contact = person(ctx)
    opt_out(contact)
    notice = enqueue(contact, "meeting", purpose="notice", not_before=utcnow() - dt.timedelta(days=1))
    reply = enqueue(contact, "You are unsubscribed", purpose="reply", channel="android")
    dispatch(ctx)
    assert row(notice).status == "cancelled"
    assert row(reply).status == "sent"


def test_routing_defaults_by_purpose(make_channel_app):
    app = make_channel_app(routing={"sms": ["twilio", "android"], "bulk": ["africastalking", "android"]})
    with app.app_context(), database.connection_context():
        contact = person(app)
        assert enqueue(contact, "reply").channel == "twilio"
        assert enqueue(contact, "bulk", purpose="broadcast").channel == "africastalking"
        assert enqueue(contact, "on android", channel="android").channel == "android"


def test_no_channel_configured_keeps_the_message_queued_with_a_reason(app):
    with app.app_context(), database.connection_context():
        message = enqueue(person(app), "nowhere to go")
        dispatch(app)
        waiting = row(message)
    assert waiting.status == "queued" and "no channel" in waiting.last_error


def test_every_channel_down_means_backoff_not_a_busy_loop(make_channel_app, fake_android, fake_twilio):
    app = make_channel_app(outbox={"failover_after": 1, "max_attempts": 5}, routing={"sms": ["android", "twilio"]})
    fake_android.always = fake_twilio.always = "500"
    with app.app_context(), database.connection_context():
        message = enqueue(person(app), "nowhere works", channel="android")
        outcomes = dispatch(app)
        waiting = row(message)
    assert outcomes == {"retry": 1, "waiting": 1}  # android, then twilio once, then a wait: no third claim
    assert (waiting.status, waiting.channel, waiting.attempts) == ("queued", "twilio", 0)  # outages use no attempt
    assert waiting.next_attempt_at > utcnow()
    assert len(fake_android.requests) == 1 and len(fake_twilio.requests) == 1


def test_waiting_for_a_down_channel_uses_no_attempt(make_channel_app, fake_android):
    app = make_channel_app(outbox={"failover_after": 1, "down_seconds": 60}, routing={"sms": ["android"]})
    with app.app_context(), database.connection_context():
        store.mark_down("android", "phone unreachable", utcnow() + dt.timedelta(seconds=60))
        message = enqueue(person(app), "patience", channel="android")
        assert dispatch(app) == {"waiting": 1}
        waiting = row(message)
        assert (waiting.status, waiting.attempts) == ("queued", 0)
        assert "no channel" in waiting.last_error
        assert waiting.next_attempt_at == store.channel_state("android").down_until
        with later(2):
            assert dispatch(app) == {"sent": 1}
    assert fake_android.sent_texts() == ["patience"]


def test_when_every_provider_is_down_a_reply_waits_within_its_validity(make_channel_app, fake_twilio, fake_at,
                                                                      fake_android):
    """Default failover settings, three dead providers for hours: the reply is neither failed nor burned through its
    attempts; it goes out once when a provider comes back, and only a reply older than its validity is given up."""
    app = make_channel_app(outbox={"max_attempts": 5, "failover_after": 3, "down_seconds": 300,
                                   "backoff_seconds": 30, "validity_hours": 3},
                           routing={"sms": ["android", "africastalking", "twilio"]})
    fake_android.always = fake_at.always = fake_twilio.always = "500"
    start = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller, app.app_context(), database.connection_context():
        contact = person(app)
        patient = enqueue(contact, "patient", channel="android")
        for _ in range(12):  # two hours of outage, looked at every 10 minutes
            dispatch(app)
            traveller.shift(dt.timedelta(minutes=10))
        waiting = row(patient)
        assert waiting.status == "queued" and waiting.attempts < 5
        assert "every channel is down" in waiting.last_error
        requests_during_outage = len(fake_android.requests) + len(fake_at.requests) + len(fake_twilio.requests)
        assert requests_during_outage < 60  # it waits for a channel to come back: no busy loop
        fake_at.always = None
        traveller.shift(dt.timedelta(minutes=10))
        dispatch(app)
        assert row(patient).status == "sent" and row(patient).channel == "africastalking"
        fake_at.always = "500"
        late = enqueue(contact, "too late", channel="android")
        for _ in range(20):  # more than three hours
            dispatch(app)
            traveller.shift(dt.timedelta(minutes=10))
        given_up = row(late)
    assert fake_at.sent_texts() == ["patient"]
    assert given_up.status == "failed" and given_up.last_error.startswith("expired")


def test_twilio_201_without_a_body_is_found_at_twilio_not_sent_twice(ctx, fake_twilio):
    fake_twilio.fail_next("empty_201")
    message = enqueue(person(ctx), "hello", channel="twilio")
    assert dispatch(ctx) == {"sent": 1}
    sent = row(message)
    [accepted] = fake_twilio.accepted
    assert (sent.status, sent.provider_id) == ("sent", accepted["sid"])  # so its status callback finds it
    with later(10):
        assert dispatch(ctx) == {}
    assert fake_twilio.sent_texts() == ["hello"]


def test_twilio_201_without_a_body_and_nothing_to_find_is_unconfirmed(ctx, fake_twilio):
    fake_twilio.fail_next("empty_201", "500")  # the list call fails too
    message = enqueue(person(ctx), "hello", channel="twilio")
    assert dispatch(ctx) == {"unconfirmed": 1}
    failed = row(message)
    assert failed.status == "failed" and failed.provider_id is None
    assert failed.last_error.startswith("unconfirmed: twilio accepted it without a message id")
    with later(10):
        assert dispatch(ctx) == {}
    assert fake_twilio.sent_texts() == ["hello"]


def test_at_201_with_an_empty_body_is_unconfirmed_never_a_duplicate(ctx, fake_at):
    fake_at.fail_next("empty_201")
    message = enqueue(person(ctx), "hello", channel="africastalking")
    assert dispatch(ctx) == {"unconfirmed": 1}
    assert row(message).status == "failed" and row(message).last_error.startswith("unconfirmed: africastalking")
    with later(10):
        assert dispatch(ctx) == {}
    assert fake_at.sent_texts() == ["hello"]
